/**
 * Test support for the PSP sandbox: a started sandbox with typed access to its merchant and control APIs, a card
 * payment through the real hosted page (form POST), and a local webhook receiver that records what arrives and
 * answers whatever status a test wants. Everything opened is closed by `close()`.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type PspSandboxHandle, type PspSandboxOptions, startPspSandbox } from './server.ts';

export interface JsonReply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  json: T;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read replies loosely
type Loose = any;

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  /** The raw body as received (signatures are over these bytes). */
  body: string;
  json: Loose;
  /** The status the receiver answered. */
  answered: number;
}

export type Responder = (hook: Omit<ReceivedWebhook, 'answered'>, index: number) => number;

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Only the ones answered 2xx (what the merchant accepted). */
  accepted(): ReceivedWebhook[];
  /** Changes what the receiver answers from now on (default 200). */
  respond(responder: Responder): void;
  /** Resolves once at least `count` webhooks have arrived (fails after `timeoutMs` of real time). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(responder: Responder = () => 200): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let respond = responder;
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Loose;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const hook = { headers: request.headers, body, json };
      let status = 500;
      try {
        status = respond(hook, received.length);
      } finally {
        received.push({ ...hook, answered: status });
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
        for (const w of [...waiters]) {
          if (received.length >= w.count) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/psp`,
    received,
    accepted: () => received.filter((r) => r.answered >= 200 && r.answered < 300),
    respond(next) {
      respond = next;
    },
    async waitFor(count, timeoutMs = 5000) {
      if (received.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`webhook receiver: ${received.length} of ${count} webhooks after ${timeoutMs} ms`)),
            timeoutMs,
          );
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return received.slice(0, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface TestPsp {
  psp: PspSandboxHandle;
  /** Calls the merchant API with the sandbox's API key. */
  api<T = Loose>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<JsonReply<T>>;
  control<T = Loose>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<JsonReply<T>>;
  /** Creates a payment session (fails the test on any refusal). */
  session(overrides?: Record<string, unknown>): Promise<Loose>;
  /** Submits the hosted page's form; answers the redirect's status and location (or the re-rendered page). */
  pay(
    sessionId: string,
    fields?: Partial<Record<'cardNumber' | 'expiry' | 'cvc' | 'holderName', string>>,
  ): Promise<{ status: number; location: string | null; html: string }>;
  close(): Promise<void>;
}

let referenceCounter = 0;
/** A merchant reference unique within the test process. */
export function uniqueReference(prefix = 'BD-DEP'): string {
  referenceCounter += 1;
  return `${prefix}-${process.pid}-${referenceCounter}`;
}

export async function startTestPsp(options: PspSandboxOptions = {}): Promise<TestPsp> {
  const psp = await startPspSandbox({ quiet: true, port: 0, controlPort: 0, ...options });
  const call = async (base: string, token: string, method: string, path: string, body?: unknown, extra = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...extra,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: Loose;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: response.status, headers: response.headers, json };
  };
  const api: TestPsp['api'] = (method, path, body, headers) => call(psp.url, psp.apiKey, method, path, body, headers);
  const control: TestPsp['control'] = (method, path, body) =>
    call(psp.controlUrl, psp.controlToken, method, path, body);
  return {
    psp,
    api,
    control,
    async session(overrides = {}) {
      const reply = await api('POST', '/v1/payment-sessions', {
        amount: 10_000,
        currency: 'USD',
        merchantReference: uniqueReference(),
        returnUrl: 'https://crm.example.test/portal/deposits/return',
        ...overrides,
      });
      if (reply.status !== 201)
        throw new Error(`payment session refused: ${reply.status} ${JSON.stringify(reply.json)}`);
      return reply.json;
    },
    async pay(sessionId, fields = {}) {
      const form = new URLSearchParams({
        cardNumber: '4242 4242 4242 4242',
        expiry: '12/39',
        cvc: '123',
        holderName: 'Test Client',
        ...fields,
      });
      const response = await fetch(`${psp.url}/pay/${sessionId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        redirect: 'manual',
      });
      return { status: response.status, location: response.headers.get('location'), html: await response.text() };
    },
    close: () => psp.close(),
  };
}
