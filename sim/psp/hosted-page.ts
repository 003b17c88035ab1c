/**
 * The hosted payment page: `GET /pay/:sessionId` shows the amount, the merchant and an accessible card form;
 * `POST /pay/:sessionId` (application/x-www-form-urlencoded: cardNumber, expiry, cvc, holderName) processes the card
 * and answers 303 to the merchant's returnUrl with `?session=<id>&status=<status>`. Bad input re-renders the form
 * (422) with an error summary and per-field messages. A session is paid once: submitting again, or opening the page
 * afterwards, only leads back to the merchant with the current status.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SimClock } from '../common/clock.ts';
import { cardBehaviour, formatCardNumber, luhnValid, TEST_CARDS } from './cards.ts';
import type { PspEngine } from './engine.ts';
import type { PaymentRecord } from './model.ts';

export interface HostedPageDeps {
  engine: PspEngine;
  clock: SimClock;
  merchantName(): string;
}

type FieldName = 'cardNumber' | 'expiry' | 'cvc' | 'holderName';
const fieldLabels: Record<FieldName, string> = {
  cardNumber: 'Card number',
  expiry: 'Expiry date (MM/YY)',
  cvc: 'Security code (CVC)',
  holderName: 'Name on card',
};

interface FormValues {
  cardNumber: string;
  expiry: string;
  cvc: string;
  holderName: string;
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** "$12.34" from 1234 minor units, exact (the decimal string is built from the integer, never through a float). */
export function formatAmount(minor: number, currency: string): string {
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat('en-GB', { style: 'currency', currency });
  } catch {
    return `${minor} ${currency} (minor units)`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const text = String(minor).padStart(digits + 1, '0');
  const decimal = digits > 0 ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
  return format.format(decimal as unknown as number);
}

export function returnLocation(payment: PaymentRecord): string {
  const url = new URL(payment.returnUrl);
  url.searchParams.set('session', payment.id);
  url.searchParams.set('status', payment.status);
  return url.toString();
}

function securityHeaders(reply: FastifyReply, payment?: PaymentRecord): FastifyReply {
  // form-action also governs the redirect after the POST, so the merchant's origin must be allowed.
  const formAction = payment ? `'self' ${new URL(payment.returnUrl).origin}` : "'self'";
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header(
      'content-security-policy',
      `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    )
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}

const STYLE = `
  body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1b1f24; }
  main { max-width: 28rem; margin: 2rem auto; background: #fff; padding: 1.5rem 2rem; border-radius: 8px;
         box-shadow: 0 1px 3px rgba(0,0,0,.15); }
  .sandbox { background: #fff4ce; border: 1px solid #c9a400; padding: .4rem .6rem; border-radius: 4px; font-size: .9rem; }
  .amount { font-size: 1.6rem; font-weight: 600; margin: .25rem 0 1rem; }
  .field { margin-bottom: 1rem; }
  label { display: block; font-weight: 600; margin-bottom: .25rem; }
  input { width: 100%; box-sizing: border-box; font-size: 1.1rem; padding: .5rem; border: 2px solid #555; border-radius: 4px; }
  input:focus { outline: 3px solid #1a5fb4; outline-offset: 1px; }
  input[aria-invalid="true"] { border-color: #b00020; }
  .row { display: flex; gap: 1rem; } .row .field { flex: 1; }
  .error { color: #b00020; font-weight: 600; margin: .25rem 0 0; }
  .summary { border: 3px solid #b00020; padding: .5rem 1rem; margin-bottom: 1rem; }
  .summary h2 { font-size: 1.1rem; margin: .25rem 0; } .summary a { color: #b00020; }
  button { width: 100%; font-size: 1.1rem; padding: .7rem; background: #1a5fb4; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
  button:focus { outline: 3px solid #000; outline-offset: 2px; }
  details { margin-top: 1.5rem; font-size: .9rem; } code { font-size: .95rem; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="sandbox">PSP sandbox: no real money moves and no card is charged.</p>
${body}
</main>
</body>
</html>
`;
}

function field(
  name: FieldName,
  value: string,
  errors: Partial<Record<FieldName, string>>,
  attrs: string,
  hint?: string,
): string {
  const error = errors[name];
  const describedBy = [hint ? `${name}-hint` : '', error ? `${name}-error` : ''].filter(Boolean).join(' ');
  return `<div class="field">
<label for="${name}">${escapeHtml(fieldLabels[name])}</label>
${hint ? `<p id="${name}-hint">${escapeHtml(hint)}</p>` : ''}
<input id="${name}" name="${name}" value="${escapeHtml(value)}" ${attrs} required${describedBy ? ` aria-describedby="${describedBy}"` : ''}${error ? ' aria-invalid="true"' : ''}>
${error ? `<p id="${name}-error" class="error">${escapeHtml(error)}</p>` : ''}
</div>`;
}

export function renderPaymentForm(
  payment: PaymentRecord,
  merchantName: string,
  values: FormValues = { cardNumber: '', expiry: '', cvc: '', holderName: '' },
  errors: Partial<Record<FieldName, string>> = {},
): string {
  const amount = formatAmount(payment.amount, payment.currency);
  const errorList = Object.entries(errors) as [FieldName, string][];
  const summary =
    errorList.length === 0
      ? ''
      : `<div class="summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
<h2 id="error-summary-title">There is a problem with the card details</h2>
<ul>${errorList.map(([name, message]) => `<li><a href="#${name}">${escapeHtml(message)}</a></li>`).join('')}</ul>
</div>`;
  const testCards = Object.entries(TEST_CARDS)
    .map(([digits, b]) => `<li><code>${formatCardNumber(digits)}</code>: ${escapeHtml(b.description)}</li>`)
    .join('');
  return page(
    `${errorList.length ? 'Error: ' : ''}Pay ${amount} to ${merchantName}`,
    `<h1>Pay ${escapeHtml(merchantName)}</h1>
<p class="amount" id="amount">${escapeHtml(amount)}</p>
${payment.description ? `<p id="description">${escapeHtml(payment.description)}</p>` : ''}
<p>Reference <span id="reference">${escapeHtml(payment.merchantReference)}</span></p>
${summary}
<form method="post" action="/pay/${encodeURIComponent(payment.id)}" novalidate aria-label="Card details">
${field('cardNumber', values.cardNumber, errors, 'type="text" inputmode="numeric" autocomplete="cc-number" maxlength="23"')}
<div class="row">
${field('expiry', values.expiry, errors, 'type="text" inputmode="numeric" autocomplete="cc-exp" placeholder="MM/YY" maxlength="7"')}
${field('cvc', '', errors, 'type="text" inputmode="numeric" autocomplete="cc-csc" maxlength="4"')}
</div>
${field('holderName', values.holderName, errors, 'type="text" autocomplete="cc-name" maxlength="100"')}
<button type="submit">Pay ${escapeHtml(amount)}</button>
</form>
<details>
<summary>Test cards</summary>
<p>Any future expiry date and any three digits as the security code.</p>
<ul>${testCards}</ul>
</details>`,
  );
}

function renderStatusPage(payment: PaymentRecord, merchantName: string): string {
  const amount = formatAmount(payment.amount, payment.currency);
  return page(
    `Payment ${payment.status}`,
    `<h1>This payment has already been submitted</h1>
<p>${escapeHtml(amount)} to ${escapeHtml(merchantName)}: <strong id="status">${escapeHtml(payment.status.replace('_', ' '))}</strong>.</p>
<p><a href="${escapeHtml(returnLocation(payment))}">Return to ${escapeHtml(merchantName)}</a></p>`,
  );
}

function renderNotFound(): string {
  return page(
    'Payment not found',
    `<h1>Payment not found</h1>
<p>This payment link is not valid. Go back to the merchant and start the payment again.</p>`,
  );
}

export interface ValidCard {
  digits: string;
  expMonth: number;
  expYear: number;
  holderName: string;
}

/** Checks the submitted form; the errors are what the re-rendered form shows next to each field. */
export function validateCardForm(
  values: FormValues,
  now: Date,
): { card: ValidCard; errors?: undefined } | { card?: undefined; errors: Partial<Record<FieldName, string>> } {
  const errors: Partial<Record<FieldName, string>> = {};
  const digits = values.cardNumber.replace(/[\s-]/g, '');
  if (digits === '') errors.cardNumber = 'Enter the card number';
  else if (!/^\d{12,19}$/.test(digits)) errors.cardNumber = 'The card number must be 12 to 19 digits';
  else if (!luhnValid(digits)) errors.cardNumber = 'The card number is not valid: check it for typing mistakes';

  let expMonth = 0;
  let expYear = 0;
  const expiry = /^\s*(\d{1,2})\s*\/?\s*(\d{2}|\d{4})\s*$/.exec(values.expiry);
  if (values.expiry.trim() === '') errors.expiry = 'Enter the expiry date';
  else if (!expiry) errors.expiry = 'Enter the expiry date as MM/YY, for example 12/29';
  else {
    expMonth = Number(expiry[1]);
    expYear = expiry[2]!.length === 2 ? 2000 + Number(expiry[2]) : Number(expiry[2]);
    const thisYear = now.getUTCFullYear();
    const thisMonth = now.getUTCMonth() + 1;
    if (expMonth < 1 || expMonth > 12) errors.expiry = 'The expiry month must be from 01 to 12';
    else if (expYear < thisYear || (expYear === thisYear && expMonth < thisMonth)) {
      errors.expiry = 'The card has expired';
    } else if (expYear > thisYear + 20) errors.expiry = 'The expiry date is too far in the future';
  }

  const cvc = values.cvc.trim();
  if (cvc === '') errors.cvc = 'Enter the security code';
  else if (!/^\d{3,4}$/.test(cvc)) errors.cvc = 'The security code is 3 or 4 digits';

  const holderName = values.holderName.trim();
  if (holderName === '') errors.holderName = 'Enter the name on the card';
  else if (holderName.length > 100) errors.holderName = 'The name must be at most 100 characters';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  else if (/[\u0000-\u001f\u007f]/.test(holderName))
    errors.holderName = 'The name contains characters that are not allowed';

  if (Object.keys(errors).length > 0) return { errors };
  return { card: { digits, expMonth, expYear, holderName } };
}

function formValues(body: unknown): FormValues {
  const record = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const text = (key: FieldName): string => {
    const value = record[key];
    return typeof value === 'string' ? value.slice(0, 200) : '';
  };
  return { cardNumber: text('cardNumber'), expiry: text('expiry'), cvc: text('cvc'), holderName: text('holderName') };
}

export function registerHostedPage(app: FastifyInstance, deps: HostedPageDeps): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  const find = (request: FastifyRequest): PaymentRecord | undefined =>
    deps.engine.findPayment((request.params as { id: string }).id);

  app.get('/pay/:id', async (request, reply) => {
    const payment = find(request);
    if (!payment) return securityHeaders(reply.code(404)).send(renderNotFound());
    if (payment.status !== 'created') {
      return securityHeaders(reply, payment).send(renderStatusPage(payment, deps.merchantName()));
    }
    return securityHeaders(reply, payment).send(renderPaymentForm(payment, deps.merchantName()));
  });

  app.post('/pay/:id', async (request, reply) => {
    const payment = find(request);
    if (!payment) return securityHeaders(reply.code(404)).send(renderNotFound());
    // Paid already (a double submit, the back button): lead back to the merchant with the current status.
    if (payment.status !== 'created') return reply.redirect(returnLocation(payment), 303);
    const values = formValues(request.body);
    const result = validateCardForm(values, new Date(deps.clock.now()));
    if (result.errors) {
      return securityHeaders(reply.code(422), payment).send(
        renderPaymentForm(payment, deps.merchantName(), values, result.errors),
      );
    }
    const paid = deps.engine.pay(payment.id, { ...result.card, behaviour: cardBehaviour(result.card.digits) });
    return reply.redirect(returnLocation(paid), 303);
  });
}
