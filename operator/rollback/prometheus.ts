// A minimal Prometheus HTTP API client for instant queries: one sample, or
// why there is none. An empty result or NaN is "no value" (Inconclusive for a
// check); a transport or API error is an error (never a failed check).
import type { QueryAnswer } from "./window.ts";

export interface PrometheusClient {
  query(address: string, query: string): Promise<QueryAnswer>;
}

interface ApiResponse {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

export function httpPrometheus(timeoutMs = 5_000, bearerToken?: () => string | undefined): PrometheusClient {
  return {
    async query(address, query) {
      const url = `${address.replace(/\/+$/, "")}/api/v1/query?${new URLSearchParams({ query })}`;
      let body: ApiResponse;
      try {
        const token = bearerToken?.();
        const response = await fetch(url, {
          signal: AbortSignal.timeout(timeoutMs),
          headers: token ? { Authorization: `Bearer ${token}` } : {},
        });
        body = (await response.json().catch(() => ({ error: `HTTP ${response.status}` }))) as ApiResponse;
        if (!response.ok || body.status !== "success") {
          return { ok: false, error: body.error ?? `HTTP ${response.status}` };
        }
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        return {
          ok: false,
          error: `${error instanceof Error ? error.message : String(error)}${cause ? ` (${cause})` : ""}`,
        };
      }
      return sampleOf(body.data);
    },
  };
}

/** The one value of an instant query's result. */
export function sampleOf(data: ApiResponse["data"]): QueryAnswer {
  if (data?.resultType === "scalar") {
    const pair = data.result as [number, string];
    return { ok: true, value: Number(pair?.[1]) };
  }
  if (data?.resultType === "vector") {
    const series = (data.result as Array<{ value: [number, string] }>) ?? [];
    if (series.length === 0) return { ok: true, value: undefined };
    if (series.length > 1) return { ok: false, error: `the query returned ${series.length} series; a check needs one` };
    return { ok: true, value: Number(series[0]?.value?.[1]) };
  }
  return { ok: false, error: `unsupported result type ${data?.resultType}` };
}
