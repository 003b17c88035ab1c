/** JSON logs (pino). Secrets are redacted by path wherever they may appear in logged objects. */
import pino, { type Logger } from 'pino';

export type { Logger };

export const redactPaths = [
  'password',
  '*.password',
  '*.*.password',
  'headers.authorization',
  'headers.cookie',
  '*.PassMain',
  '*.PassInvestor',
  '*.apiPassword',
];

export function createLogger(level = 'info', name = 'brokerdesk'): Logger {
  return pino({ name, level, redact: { paths: redactPaths, censor: '[redacted]' } });
}
