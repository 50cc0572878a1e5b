// JSON logs via pino. Secrets never reach the output: redaction is configured
// here, once, for every key that can carry one, at any depth we log.
import pino, { type Logger } from "pino";

export const REDACTED_PATHS = [
  "token",
  "*.token",
  "*.*.token",
  "licenseToken",
  "*.licenseToken",
  "license.token",
  "*.license.token",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "password",
  "*.password",
  "secret.data",
  "*.secret.data",
  "data",
  "*.data",
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: "arf-operator" },
      redact: { paths: REDACTED_PATHS, censor: "[REDACTED]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
