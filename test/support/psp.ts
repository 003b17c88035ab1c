/**
 * Starts the PSP sandbox in-process for tests (port 0, memory state unless a stateDir is given) together with a
 * product adapter configured for it, and re-exports the local webhook receiver. Tests may import simulator code;
 * product code never does.
 */
import { createHmac } from 'node:crypto';
import { SimClock } from '../../sim/common/clock.ts';
import type { PspSandboxHandle, PspSandboxOptions } from '../../sim/psp/server.ts';
import { startTestPsp } from '../../sim/psp/test-support.ts';
import { SandboxPaymentProvider, type SandboxProviderOptions } from '../../src/payments/sandbox.ts';

export {
  type ReceivedWebhook,
  type Responder,
  startWebhookReceiver,
  uniqueReference,
  type WebhookReceiver,
} from '../../sim/psp/test-support.ts';

/** The sandbox's test cards (see sim/psp/README.md). */
export const TEST_CARDS = {
  success: '4242424242424242',
  declined: '4000000000000002',
  pendingThenSuccess: '4000000000003220',
  pendingThenFailure: '4000000000009995',
} as const;

export interface PspTestbed {
  psp: PspSandboxHandle;
  /** The product's adapter, pointed at the sandbox with its API key and webhook secret. */
  provider: SandboxPaymentProvider;
  /** The sandbox's clock (frozen at `start` unless `frozenClock: false`): advance it instead of sleeping. */
  clock: SimClock;
  /** Calls the sandbox's control API; throws on a non-2xx answer. */
  control<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** Pays a session through the hosted page's form, as the client's browser would; answers the 303's target. */
  pay(
    sessionId: string,
    card?: string,
  ): Promise<{ status: number; location: string | null; returnStatus: string | null; html: string }>;
  close(): Promise<void>;
}

export interface PspTestbedOptions extends PspSandboxOptions {
  /** Adapter settings over the defaults (timeoutMs 3000, toleranceSeconds 300). */
  adapter?: Partial<SandboxProviderOptions>;
  /** Freeze the sandbox clock at this instant (default 2026-03-02T10:00:00Z); false = real time. */
  frozenAt?: Date | false;
}

export async function startPsp(options: PspTestbedOptions = {}): Promise<PspTestbed> {
  const { adapter, frozenAt, ...sandbox } = options;
  const start = frozenAt === false ? undefined : (frozenAt ?? new Date('2026-03-02T10:00:00Z')).getTime();
  const clock = sandbox.clock ?? (start === undefined ? new SimClock() : new SimClock(() => start));
  const t = await startTestPsp({ ...sandbox, clock });
  const provider = new SandboxPaymentProvider({
    baseUrl: t.psp.url,
    apiKey: t.psp.apiKey,
    webhookSecret: t.psp.webhookSecret,
    timeoutMs: 3000,
    ...adapter,
  });
  return {
    psp: t.psp,
    provider,
    clock,
    async control<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
      const reply = await t.control(method, path, body);
      if (reply.status < 200 || reply.status >= 300) {
        throw new Error(`PSP control ${method} ${path}: HTTP ${reply.status} ${JSON.stringify(reply.json)}`);
      }
      return reply.json as T;
    },
    async pay(sessionId, card = TEST_CARDS.success) {
      const reply = await t.pay(sessionId, { cardNumber: card });
      const returnStatus = reply.location ? new URL(reply.location).searchParams.get('status') : null;
      return { ...reply, returnStatus };
    },
    close: () => t.close(),
  };
}

/** A `Psp-Signature` header for a body, as the sandbox makes it (for forging webhooks in tests). */
export function pspSignature(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}
