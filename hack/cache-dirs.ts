// Where hack/build-binaries.sh caches a binary: asked of hack/lib.sh, the one
// place that decides (the directory names carry the pinned versions).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const REPO_ROOT = join(import.meta.dirname, "..");

/** The directory a lib.sh helper (helm_bin_dir, flux_bin_dir, argo_lua_bin_dir, ...) names. */
export function cacheDir(helper: string): string {
  return execFileSync("bash", ["-c", 'source "$1/hack/lib.sh" && "$2"', "-", REPO_ROOT, helper], {
    encoding: "utf8",
  }).trim();
}
