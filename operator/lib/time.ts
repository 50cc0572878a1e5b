/**
 * RFC 3339 in UTC with second precision, as Go's time.Now().Format(time.RFC3339)
 * renders it under TZ=UTC (what kubectl writes, e.g. for restartedAt):
 * "2026-11-21T10:00:00Z", never a fractional part.
 */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}
