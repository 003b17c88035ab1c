/**
 * The demo's local mailbox: an SMTP server on loopback that accepts every message (no relay, no authentication),
 * stores each one under `<dataDir>/mailbox` (the raw message and its parsed summary, so restarts keep them), and a
 * small web viewer on its own port listing the messages and showing one, with links in the text made clickable
 * (verification links open the portal). Everything shown is HTML-escaped; an HTML part is shown in a sandboxed frame.
 *
 * JSON for tools and tests: `GET /api/messages?to=&limit=&offset=` and `GET /api/messages/:id`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface MailboxOptions {
  /** Messages are stored in `<dir>`. */
  dir: string;
  host?: string;
  /** SMTP port (0 = any free port). */
  smtpPort: number;
  /** Web viewer port (0 = any free port). */
  webPort: number;
  /** Largest message accepted, in bytes. */
  maxBytes?: number;
}

export interface MailMessage {
  id: string;
  receivedAt: string;
  /** Envelope sender and recipients (what the relay was told), then the headers' own. */
  envelopeFrom: string | null;
  envelopeTo: string[];
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  size: number;
}

export type MailSummary = Omit<MailMessage, 'text' | 'html'> & { preview: string };

export interface Mailbox {
  smtpPort: number;
  webUrl: string;
  /** Newest first; `to` keeps the messages addressed to that address (case-insensitive). */
  list(filter?: { to?: string; limit?: number; offset?: number }): { items: MailSummary[]; total: number };
  get(id: string): MailMessage | null;
  /** Resolves with the first message (newest first) that matches, waiting for it to arrive (bounded). */
  waitFor(match: (m: MailMessage) => boolean, timeoutMs?: number): Promise<MailMessage>;
  close(): Promise<void>;
}

// --- parsing ---------------------------------------------------------------------------------------------------------

interface Part {
  headers: Map<string, string>;
  body: Buffer;
}

function splitHeaders(raw: Buffer): Part {
  const text = raw.toString('latin1');
  let end = text.indexOf('\r\n\r\n');
  let sep = 4;
  if (end < 0) {
    end = text.indexOf('\n\n');
    sep = 2;
  }
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? Buffer.alloc(0) : raw.subarray(end + sep);
  const headers = new Map<string, string>();
  // Unfold continuation lines, then take the first occurrence of each header.
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset?.toLowerCase() || 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function decodeQuotedPrintable(body: string): Buffer {
  const soft = body.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(soft.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words in headers (`=?utf-8?Q?…?=`, `=?utf-8?B?…?=`). */
export function decodeHeader(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_all, charset: string, encoding: string, data: string) => {
      const bytes =
        encoding.toUpperCase() === 'B'
          ? Buffer.from(data, 'base64')
          : decodeQuotedPrintable(data.replace(/_/g, ' ').replace(/=(?![0-9A-Fa-f]{2})/g, '=3D'));
      return decodeCharset(bytes, charset);
    });
}

function parameter(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const match = new RegExp(`;\\s*${name}\\s*=\\s*("([^"]*)"|[^;\\s]+)`, 'i').exec(header);
  return match ? (match[2] ?? match[1]) : undefined;
}

function decodeBody(part: Part): Buffer {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(part.body.toString('latin1').replace(/\s+/g, ''), 'base64');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(part.body.toString('latin1'));
  return part.body;
}

/** The text and HTML bodies of a message (first of each, multipart walked depth-first). */
function bodies(part: Part, found: { text: string | null; html: string | null }): void {
  const type = part.headers.get('content-type') ?? 'text/plain';
  const mime = type.split(';')[0]!.trim().toLowerCase();
  if (mime.startsWith('multipart/')) {
    const boundary = parameter(type, 'boundary');
    if (!boundary) return;
    const text = part.body.toString('latin1');
    const pieces = text.split(
      new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?\\n?`),
    );
    for (const piece of pieces.slice(1)) {
      if (piece.trim() === '') continue;
      bodies(splitHeaders(Buffer.from(piece, 'latin1')), found);
    }
    return;
  }
  if ((part.headers.get('content-disposition') ?? '').toLowerCase().startsWith('attachment')) return;
  const charset = parameter(type, 'charset');
  if (mime === 'text/plain' && found.text === null) found.text = decodeCharset(decodeBody(part), charset);
  else if (mime === 'text/html' && found.html === null) found.html = decodeCharset(decodeBody(part), charset);
}

export function parseMessage(raw: Buffer): Pick<MailMessage, 'from' | 'to' | 'subject' | 'text' | 'html'> {
  const top = splitHeaders(raw);
  const found: { text: string | null; html: string | null } = { text: null, html: null };
  bodies(top, found);
  return {
    from: decodeHeader(top.headers.get('from') ?? ''),
    to: decodeHeader(top.headers.get('to') ?? ''),
    subject: decodeHeader(top.headers.get('subject') ?? '(no subject)'),
    text: (found.text ?? '').replace(/\r\n/g, '\n'),
    html: found.html,
  };
}

// --- viewer ----------------------------------------------------------------------------------------------------------

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Escapes the text and turns http(s) URLs into links (the URL is escaped too, so it cannot break out). */
export function linkify(text: string): string {
  const out: string[] = [];
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/[^\s<>"')]+/g)) {
    out.push(escapeHtml(text.slice(last, match.index)));
    const url = match[0].replace(/[.,;:!?]+$/, '');
    out.push(`<a href="${escapeHtml(url)}">${escapeHtml(url)}</a>`);
    last = match.index + url.length;
  }
  out.push(escapeHtml(text.slice(last)));
  return out.join('');
}

const style = `
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1a1b1e; background: #f8f9fa; }
  header { background: #1c7ed6; color: #fff; padding: 12px 16px; }
  header a { color: #fff; }
  main { padding: 16px; max-width: 1100px; margin: 0 auto; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: 8px; border-bottom: 1px solid #dee2e6; vertical-align: top; }
  td.subject a { font-weight: 600; }
  .muted { color: #5c5f66; font-size: 13px; }
  pre { white-space: pre-wrap; word-break: break-word; background: #fff; padding: 12px; border: 1px solid #dee2e6; }
  iframe { width: 100%; min-height: 420px; border: 1px solid #dee2e6; background: #fff; }
  nav.pager { margin: 12px 0; display: flex; gap: 16px; }
  a:focus { outline: 3px solid #fab005; }
  @media (max-width: 640px) { th.when, td.when, th.from, td.from { display: none; } }
`;

function page(title: string, content: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${style}</style></head><body><header><a href="/">Brokerdesk demo mailbox</a></header><main>${content}</main></body></html>`;
}

const PAGE_SIZE = 50;

export async function startMailbox(options: MailboxOptions): Promise<Mailbox> {
  const host = options.host ?? '127.0.0.1';
  const dir = options.dir;
  mkdirSync(dir, { recursive: true });
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const waiters = new Set<{ match: (m: MailMessage) => boolean; resolve: (m: MailMessage) => void }>();

  // Summaries in memory (newest first), loaded from disk once; each message's full text is read when asked for.
  const index: MailSummary[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const m = JSON.parse(readFileSync(join(dir, name), 'utf8')) as MailMessage;
      index.push(summary(m));
    } catch {
      // a half-written file from a crash: its .eml is still there
    }
  }
  index.sort((a, b) => (a.id < b.id ? 1 : -1));

  function summary(m: MailMessage): MailSummary {
    const { text, html: _h, ...rest } = m;
    return { ...rest, preview: text.replace(/\s+/g, ' ').trim().slice(0, 140) };
  }

  function store(raw: Buffer, envelopeFrom: string | null, envelopeTo: string[]): MailMessage {
    // Sortable by arrival: milliseconds then a counter-like random suffix.
    const id = `${Date.now().toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
    const message: MailMessage = {
      id,
      receivedAt: new Date().toISOString(),
      envelopeFrom,
      envelopeTo,
      ...parseMessage(raw),
      size: raw.length,
    };
    writeFileSync(join(dir, `${id}.eml`), raw);
    // Written then renamed: a reader never sees half a summary.
    writeFileSync(join(dir, `${id}.json.tmp`), JSON.stringify(message));
    renameSync(join(dir, `${id}.json.tmp`), join(dir, `${id}.json`));
    index.unshift(summary(message));
    for (const w of [...waiters]) {
      if (w.match(message)) {
        waiters.delete(w);
        w.resolve(message);
      }
    }
    return message;
  }

  const get = (id: string): MailMessage | null => {
    if (!/^[0-9]{15}-[0-9a-f]{8}$/.test(id)) return null;
    try {
      return JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as MailMessage;
    } catch {
      return null;
    }
  };

  const list: Mailbox['list'] = (filter = {}) => {
    const to = filter.to?.toLowerCase();
    const matching = to
      ? index.filter((m) => m.envelopeTo.some((r) => r.toLowerCase() === to) || m.to.toLowerCase().includes(to))
      : index;
    const offset = Math.max(0, filter.offset ?? 0);
    const limit = Math.min(500, Math.max(1, filter.limit ?? PAGE_SIZE));
    return { items: matching.slice(offset, offset + limit), total: matching.length };
  };

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: maxBytes,
    banner: 'Brokerdesk demo mailbox (messages are kept locally, never relayed)',
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          const err = Object.assign(new Error(`message larger than ${maxBytes} bytes`), { responseCode: 552 });
          callback(err);
          return;
        }
        try {
          const from = session.envelope.mailFrom;
          store(
            Buffer.concat(chunks),
            from ? from.address : null,
            session.envelope.rcptTo.map((r) => r.address),
          );
          callback();
        } catch (err) {
          callback(err as Error);
        }
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(options.smtpPort, host, () => {
      smtp.off('error', reject);
      resolve();
    });
  });
  smtp.on('error', () => {
    // a client that hangs up mid-message: nothing to do
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const web: Server = createServer((request, response) => {
    try {
      serve(request, response);
    } catch {
      send(response, 500, 'text/plain; charset=utf-8', 'the mailbox could not show this page');
    }
  });

  function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
    response.writeHead(status, {
      'content-type': type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // The viewer has no scripts; an HTML part is shown in a frame that may not run any either.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'",
    });
    response.end(body);
  }

  function serve(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://mailbox.local');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'application/json', JSON.stringify({ code: 'METHOD_NOT_ALLOWED', message: 'read only' }));
      return;
    }
    const path = url.pathname;
    const int = (name: string, fallback: number) => {
      const n = Number(url.searchParams.get(name) ?? fallback);
      return Number.isInteger(n) && n >= 0 ? n : fallback;
    };
    if (path === '/api/messages') {
      const result = list({
        to: url.searchParams.get('to') ?? undefined,
        limit: int('limit', PAGE_SIZE),
        offset: int('offset', 0),
      });
      send(response, 200, 'application/json', JSON.stringify(result));
      return;
    }
    let match = /^\/api\/messages\/([^/]+)$/.exec(path);
    if (match) {
      const m = get(match[1]!);
      if (!m)
        send(response, 404, 'application/json', JSON.stringify({ code: 'NOT_FOUND', message: 'no such message' }));
      else send(response, 200, 'application/json', JSON.stringify(m));
      return;
    }
    match = /^\/messages\/([^/]+)\.eml$/.exec(path);
    if (match) {
      const m = get(match[1]!);
      if (!m) send(response, 404, 'text/plain; charset=utf-8', 'no such message');
      else send(response, 200, 'message/rfc822', readFileSync(join(dir, `${m.id}.eml`)));
      return;
    }
    match = /^\/messages\/([^/]+)\/html$/.exec(path);
    if (match) {
      const m = get(match[1]!);
      if (!m?.html) send(response, 404, 'text/plain; charset=utf-8', 'this message has no HTML part');
      else send(response, 200, 'text/html; charset=utf-8', m.html);
      return;
    }
    match = /^\/messages\/([^/]+)$/.exec(path);
    if (match) {
      const m = get(match[1]!);
      if (!m) {
        send(
          response,
          404,
          'text/html; charset=utf-8',
          page('Not found', '<h1>No such message</h1><p><a href="/">All messages</a></p>'),
        );
        return;
      }
      const html = m.html
        ? `<h2>HTML part</h2><iframe title="HTML part of the message" sandbox src="/messages/${escapeHtml(m.id)}/html"></iframe>`
        : '';
      send(
        response,
        200,
        'text/html; charset=utf-8',
        page(
          m.subject,
          `<p><a href="/">← All messages</a></p><h1>${escapeHtml(m.subject)}</h1>
<table><tbody>
<tr><th scope="row">From</th><td>${escapeHtml(m.from || m.envelopeFrom || '')}</td></tr>
<tr><th scope="row">To</th><td>${escapeHtml(m.to || m.envelopeTo.join(', '))}</td></tr>
<tr><th scope="row">Received</th><td>${escapeHtml(m.receivedAt)}</td></tr>
</tbody></table>
<h2>Text</h2><pre>${linkify(m.text)}</pre>${html}
<p class="muted"><a href="/messages/${escapeHtml(m.id)}.eml">Download the raw message</a></p>`,
        ),
      );
      return;
    }
    if (path === '/') {
      const offset = int('offset', 0);
      const { items, total } = list({ limit: PAGE_SIZE, offset });
      const rows = items
        .map(
          (m) =>
            `<tr><td class="when">${escapeHtml(m.receivedAt.replace('T', ' ').slice(0, 19))}</td><td class="from">${escapeHtml(m.from || m.envelopeFrom || '')}</td><td>${escapeHtml(m.to || m.envelopeTo.join(', '))}</td><td class="subject"><a href="/messages/${escapeHtml(m.id)}">${escapeHtml(m.subject)}</a><div class="muted">${escapeHtml(m.preview)}</div></td></tr>`,
        )
        .join('');
      const pager = [
        offset > 0 ? `<a href="/?offset=${Math.max(0, offset - PAGE_SIZE)}">← Newer</a>` : '',
        offset + PAGE_SIZE < total ? `<a href="/?offset=${offset + PAGE_SIZE}">Older →</a>` : '',
      ].join('');
      send(
        response,
        200,
        'text/html; charset=utf-8',
        page(
          'Mailbox',
          `<h1>Mailbox</h1><p class="muted">Every email Brokerdesk sends in the demo arrives here (${total} message${total === 1 ? '' : 's'}); nothing leaves this machine.</p>${
            total === 0
              ? '<p>No messages yet. Register in the client portal to receive a verification link.</p>'
              : `<table><caption class="muted">Messages ${offset + 1}–${offset + items.length} of ${total}, newest first</caption><thead><tr><th scope="col" class="when">Received (UTC)</th><th scope="col" class="from">From</th><th scope="col">To</th><th scope="col">Subject</th></tr></thead><tbody>${rows}</tbody></table><nav class="pager" aria-label="Pages">${pager}</nav>`
          }`,
        ),
      );
      return;
    }
    send(
      response,
      404,
      'text/html; charset=utf-8',
      page('Not found', '<h1>Not found</h1><p><a href="/">All messages</a></p>'),
    );
  }

  await new Promise<void>((resolve, reject) => {
    web.once('error', reject);
    web.listen(options.webPort, host, () => {
      web.off('error', reject);
      resolve();
    });
  });
  const webUrl = `http://${host}:${(web.address() as AddressInfo).port}`;

  return {
    smtpPort,
    webUrl,
    list,
    get,
    waitFor(match, timeoutMs = 15_000) {
      for (const s of index) {
        const m = get(s.id);
        if (m && match(m)) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (waiters.delete(waiter)) reject(new Error(`no matching email arrived within ${timeoutMs} ms`));
        }, timeoutMs).unref();
      });
    },
    async close() {
      for (const w of waiters) waiters.delete(w);
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await new Promise<void>((resolve) => {
        web.close(() => resolve());
        web.closeAllConnections();
      });
    },
  };
}
