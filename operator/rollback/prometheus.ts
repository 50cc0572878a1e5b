// A minimal Prometheus HTTP API client for instant queries: one sample, or
// why there is none. An empty result or NaN is "no value" (Inconclusive for a
// check); a transport or API error is an error (never a failed check).
// Credentials (a bearer token and a CA bundle) come from a Secret the operator
// reads; they are never logged.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { QueryAnswer } from "./window.ts";

export interface PrometheusClient {
  query(address: string, query: string): Promise<QueryAnswer>;
}

export interface PrometheusCredentials {
  token?: string;
  /** PEM bundle of the CAs that sign Prometheus's certificate (instead of the system's). */
  ca?: string;
}

interface ApiResponse {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

function get(
  url: URL,
  timeoutMs: number,
  credentials: PrometheusCredentials,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const request = send(
      url,
      {
        method: "GET",
        headers: credentials.token ? { Authorization: `Bearer ${credentials.token}` } : {},
        ...(url.protocol === "https:" && credentials.ca ? { ca: credentials.ca } : {}),
        timeout: timeoutMs,
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    request.on("error", reject);
    request.end();
  });
}

/**
 * tokenOrigin: the only origin (scheme, host, port) the bearer token is sent to,
 * the operator's --prometheus-url. A RollbackPlan may name another address, and
 * whoever writes a plan must never receive the token; the CA bundle, which is
 * no secret, is used for any address.
 */
export function httpPrometheus(
  timeoutMs = 5_000,
  credentials: () => Promise<PrometheusCredentials> = async () => ({}),
  tokenOrigin?: string,
): PrometheusClient {
  return {
    async query(address, query) {
      let url: URL;
      try {
        url = new URL(`${address.replace(/\/+$/, "")}/api/v1/query?${new URLSearchParams({ query })}`);
      } catch {
        return { ok: false, error: `invalid Prometheus address ${address}` };
      }
      let body: ApiResponse;
      try {
        const { token, ca } = await credentials();
        const mayHaveToken = token !== undefined && tokenOrigin !== undefined && url.origin === tokenOrigin;
        const response = await get(url, timeoutMs, { ...(mayHaveToken ? { token } : {}), ...(ca ? { ca } : {}) });
        try {
          body = JSON.parse(response.body) as ApiResponse;
        } catch {
          body = { error: `HTTP ${response.status}` };
        }
        if (response.status < 200 || response.status >= 300 || body.status !== "success") {
          return { ok: false, error: body.error ?? `HTTP ${response.status}` };
        }
      } catch (error) {
        const code = (error as { code?: string }).code;
        return {
          ok: false,
          error: `${error instanceof Error ? error.message : String(error)}${code ? ` (${code})` : ""}`,
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
