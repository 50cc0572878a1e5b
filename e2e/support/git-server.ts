// A git repository served over HTTP on loopback, as Flux's GitRepository needs
// (it accepts only http, https or ssh URLs). Git's own `git http-backend` does
// the protocol; this is only the CGI glue. Commits are pushed to the bare
// repository through the file system, so the server is read-only.
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";

export class GitServer {
  private readonly root = mkdtempSync(join(tmpdir(), "arf-git-"));
  private server: Server | undefined;
  private port = 0;

  /** Starts serving; repositories are at `url(name)`. */
  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const fail = (why: string) => {
        if (!response.headersSent) response.writeHead(500, { "Content-Type": "text/plain" });
        response.end(`git http-backend: ${why}\n`);
      };
      let path: string;
      try {
        const url = new URL(request.url ?? "/", "http://127.0.0.1");
        path = decodeURIComponent(url.pathname);
        this.run(request, url, path, response, fail);
      } catch (error) {
        fail(String(error));
      }
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (!address || typeof address === "string") throw new Error("git server has no port");
    this.port = address.port;
  }

  /** One CGI request: the body in, headers and body out, and a 500 naming the cause when the backend fails. */
  private run(
    request: IncomingMessage,
    url: URL,
    path: string,
    response: ServerResponse,
    fail: (why: string) => void,
  ): void {
    const cgi = spawn(HTTP_BACKEND, [], {
      env: {
        GIT_PROJECT_ROOT: join(this.root, "repos"),
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: request.method ?? "GET",
        PATH_INFO: path,
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: request.headers["content-type"] ?? "",
        ...(request.headers["content-length"] ? { CONTENT_LENGTH: request.headers["content-length"] } : {}),
        ...(request.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: request.headers["content-encoding"] } : {}),
        ...(typeof request.headers["git-protocol"] === "string"
          ? { GIT_PROTOCOL: request.headers["git-protocol"] }
          : {}),
        REMOTE_ADDR: "127.0.0.1",
      },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    cgi.on("error", (error) => fail(`could not run ${HTTP_BACKEND}: ${error.message}`));
    cgi.stdin.on("error", () => undefined); // the backend may exit before reading the whole body; its exit code says why
    request.pipe(cgi.stdin);
    cgi.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    cgi.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    cgi.on("close", (code) => {
      const output = Buffer.concat(stdout);
      const end = output.indexOf("\r\n\r\n");
      if (code !== 0 || end < 0) {
        fail(`exited ${code}: ${Buffer.concat(stderr).toString().trim() || "no headers written"}`);
        return;
      }
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of output.subarray(0, end).toString().split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon < 0) continue;
        const key = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (key.toLowerCase() === "status") status = Number.parseInt(value, 10) || 500;
        else headers[key] = value;
      }
      response.writeHead(status, headers).end(output.subarray(end + 4));
    });
  }

  url(repository: string): string {
    return `http://127.0.0.1:${this.port}/${repository}.git`;
  }

  /** Creates a bare repository and a work tree that commits to it. */
  async createRepository(name: string): Promise<GitWorkTree> {
    const bare = join(this.root, "repos", `${name}.git`);
    mkdirSync(bare, { recursive: true });
    await run("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
    const work = join(this.root, "work", name);
    mkdirSync(work, { recursive: true });
    await run("git", ["init", "--quiet", "--initial-branch=main", work]);
    await run("git", ["-C", work, "remote", "add", "origin", bare]);
    return new GitWorkTree(work);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

export class GitWorkTree {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Writes (or, with content undefined, deletes) files and pushes one commit; returns its SHA. */
  async commit(message: string, files: Record<string, string | undefined>): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      const file = join(this.dir, path);
      if (content === undefined) unlinkSync(file);
      else {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, content);
      }
    }
    const git = (...args: string[]) =>
      run("git", ["-C", this.dir, "-c", "user.name=e2e", "-c", "user.email=e2e@arf.dev", ...args]);
    await git("add", "--all");
    await git("commit", "--quiet", "--allow-empty", "-m", message);
    await git("push", "--quiet", "origin", "main");
    return (await git("rev-parse", "HEAD")).stdout.trim();
  }
}
