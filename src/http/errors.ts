/**
 * Every error a client can see, as `{code, message, details?}` with the right 4xx: typed domain errors map to their
 * status here, in one place. Anything unexpected is a 500 with a generic message; the details go to our log only.
 */
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ZodError } from 'zod';
import { AccountError } from '../modules/accounts/errors.ts';
import { AlertStateError } from '../modules/alerts/service.ts';
import { ClientError } from '../modules/clients/service.ts';
import { CommissionError } from '../modules/commissions/errors.ts';
import { ExternalChangeError } from '../modules/external-changes/service.ts';
import { FundingError } from '../modules/funding/errors.ts';
import { KycError } from '../modules/kyc/service.ts';
import { PartnerError } from '../modules/partners/service.ts';
import { ProductError } from '../modules/products/service.ts';
import { ReconError } from '../modules/reconciliation/errors.ts';
import { AuthError, StaffError } from '../modules/staff/service.ts';
import { OperationStateError } from '../operations/admin.ts';
import { OperationInputError } from '../operations/enqueue.ts';
import { RoutingError } from '../platforms/errors.ts';
import { ServerSettingsError } from '../platforms/registry.ts';

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/** Raised by route guards and handlers for a request the caller may not make. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const statusByCode: Record<string, number> = {
  INVALID_CREDENTIALS: 401,
  TOTP_REQUIRED: 401,
  TOTP_INVALID: 401,
  SESSION_INVALID: 401,
  ACCOUNT_DISABLED: 403,
  STAFF_EXISTS: 409,
  STAFF_NOT_FOUND: 404,
  WEAK_PASSWORD: 400,
  TOTP_NOT_STARTED: 409,
  OPERATION_NOT_FOUND: 404,
  OPERATION_NOT_RETRYABLE: 409,
  OPERATION_NOT_CANCELLABLE: 409,
  ALERT_NOT_FOUND: 404,
  ALERT_ALREADY_RESOLVED: 409,
  CLIENT_EXISTS: 409,
  CLIENT_NOT_FOUND: 404,
  VERIFICATION_TOKEN_INVALID: 400,
  VERIFICATION_TOKEN_USED: 409,
  VERIFICATION_TOKEN_EXPIRED: 410,
  EMAIL_ALREADY_VERIFIED: 409,
  EXTERNAL_CHANGE_NOT_FOUND: 404,
  EXTERNAL_CHANGE_ALREADY_REVIEWED: 409,
  EXTERNAL_CHANGE_NOTE_REQUIRED: 400,
  KYC_FILE_EMPTY: 400,
  KYC_FILE_TOO_LARGE: 413,
  KYC_FILE_TYPE_NOT_ALLOWED: 415,
  KYC_DOCUMENT_NOT_FOUND: 404,
  KYC_DOCUMENT_ALREADY_REVIEWED: 409,
  KYC_CLIENT_NOT_FOUND: 404,
  KYC_TRANSITION_NOT_ALLOWED: 409,
  KYC_DOCUMENTS_NOT_REVIEWED: 409,
};

type FastifyLikeError = Error & {
  statusCode?: number;
  code?: string;
  validation?: unknown;
  validationContext?: string;
};

export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; unexpected: boolean } {
  const e = err as FastifyLikeError;
  if (err instanceof HttpError)
    return {
      status: err.status,
      body: { code: err.code, message: err.message, details: err.details },
      unexpected: false,
    };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = e.validationContext ?? 'request';
    const issues = (e.validation as { instancePath?: string; message?: string }[]).map((v) => ({
      in: where,
      path: (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.'),
      message: v.message ?? 'invalid',
    }));
    return {
      status: 400,
      body: {
        code: 'VALIDATION_FAILED',
        message: `the ${where} is not valid: ${issues.map((i) => `${i.path || where}: ${i.message}`).join('; ')}`,
        details: issues,
      },
      unexpected: false,
    };
  }
  if (err instanceof ZodError) {
    const issues = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    return {
      status: 400,
      body: {
        code: 'VALIDATION_FAILED',
        message: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
        details: issues,
      },
      unexpected: false,
    };
  }
  if (
    err instanceof AuthError ||
    err instanceof StaffError ||
    err instanceof OperationStateError ||
    err instanceof AlertStateError
  ) {
    return { status: statusByCode[err.code] ?? 400, body: { code: err.code, message: err.message }, unexpected: false };
  }
  if (err instanceof ClientError || err instanceof KycError || err instanceof ExternalChangeError)
    return { status: statusByCode[err.code] ?? 400, body: { code: err.code, message: err.message }, unexpected: false };
  if (err instanceof FundingError)
    return {
      status: err.status,
      body: { code: err.code, message: err.message, details: err.details },
      unexpected: false,
    };
  if (err instanceof CommissionError)
    return {
      status: err.status,
      body: { code: err.code, message: err.message, details: err.details },
      unexpected: false,
    };
  if (err instanceof PartnerError)
    return { status: err.status, body: { code: err.code, message: err.message }, unexpected: false };
  if (err instanceof ProductError || err instanceof AccountError)
    return {
      status: err.status,
      body: { code: err.code, message: err.message, details: err.details },
      unexpected: false,
    };
  if (err instanceof ReconError)
    return {
      status: err.status,
      body: { code: err.code, message: err.message, details: err.details },
      unexpected: false,
    };
  if (err instanceof ServerSettingsError)
    return { status: 400, body: { code: err.code, message: err.message, details: err.problems }, unexpected: false };
  if (err instanceof OperationInputError)
    return { status: 400, body: { code: err.code, message: err.message }, unexpected: false };
  if (err instanceof RoutingError)
    return { status: 422, body: { code: err.code.toUpperCase(), message: err.message }, unexpected: false };
  if (e?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (e instanceof SyntaxError && e.statusCode === 400)) {
    return {
      status: 400,
      body: { code: 'MALFORMED_JSON', message: 'the request body is not valid JSON' },
      unexpected: false,
    };
  }
  if (e?.statusCode === 429)
    return {
      status: 429,
      body: { code: 'RATE_LIMITED', message: 'too many attempts; wait a minute and try again' },
      unexpected: false,
    };
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return {
      status: e.statusCode,
      body: { code: (e.code ?? 'BAD_REQUEST').replace(/^FST_ERR_/, ''), message: e.message },
      unexpected: false,
    };
  }
  return {
    status: 500,
    body: { code: 'INTERNAL', message: 'something went wrong on our side; it has been logged' },
    unexpected: true,
  };
}
