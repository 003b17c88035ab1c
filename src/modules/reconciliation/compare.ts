/**
 * The comparison itself: set-based SQL, one statement per kind of break, each writing what it finds into
 * `recon_run_breaks` for the run; then the merge into `recon_breaks` (new, continued, reopened) and the clearing of
 * breaks the run no longer sees. Nothing here loops over rows in JavaScript: a day of a large broker (100 000
 * accounts, a million records) is a handful of hash joins (bench/reconciliation.ts).
 *
 * Cut-offs: CRM facts are compared by their own times (operation created, ledger transaction posted) against the
 * run's cut-off `C`; each server's records against that server's cut-off (C, or earlier when its history is synced
 * only up to an earlier instant: what the CRM did after it is not judged yet); PSP lines are those the run fetched
 * up to C. Items are looked at from the horizon `H` (the day's window start, or earlier while older breaks are
 * still open, so that a later run can clear them).
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Db, Executor } from '../../db/connect.ts';

export interface CompareScope {
  runId: string;
  /** The run's cut-off. */
  cutoffAt: Date;
  horizonStart: Date;
  /**
   * The operations of the breaks open as missing on the server when the comparison started: re-examined whatever their
   * age, and so cleared when the run no longer sees them.
   */
  openMissingOperations: string[];
  /** Live servers whose history can be compared, each with its own cut-off (≤ C). */
  servers: { serverCode: string; cutoffAt: Date }[];
  /**
   * Up to when each live server's history is known complete (its cursor after the run's history pass). An account's
   * balance is compared only when its server's history reaches the moment the balance was read: the trading result
   * of deals the CRM has not synced yet is in the balance and not in the expected figure.
   */
  histories: { serverCode: string; syncedTo: Date | null }[];
  /** The PSP whose lines the run fetched; null when none was fetched (not configured or unavailable). */
  psp: string | null;
  /** Where the run's PSP lines start (a while before the horizon). */
  pspLinesFrom: Date;
  /** When the balance snapshot started: operations that finished after it make an account's figures incomparable. */
  snapshotStartedAt: Date | null;
  now: Date;
}

const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;

/**
 * The money movement an operation's correlation id names, looked up row by row through the primary key: used after
 * the comparison has narrowed the rows to the breaks (few), where a hash of every movement would cost far more.
 * Correlation ids are free text (a movement id, or a reference for some compensations).
 */
const movementOf = (correlationId: SQL) => sql`left join lateral (
    select mm.* from money_movements mm
    where mm.id = (case when ${correlationId} ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                        then (${correlationId})::uuid end)
    offset 0
  ) m on true`;

function srv(scope: CompareScope): SQL {
  const rows = scope.servers.map((s) => ({ server_code: s.serverCode, cutoff_at: s.cutoffAt.toISOString() }));
  return sql`srv as (select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as s(server_code text, cutoff_at timestamptz))`;
}

const INSERT = sql`insert into recon_run_breaks (run_id, break_key, class, side, server_code, login, trading_account_id,
  client_id, movement_id, operation_id, reference, trade_record_id, psp, psp_transaction_id, external_change_id,
  currency, crm_amount_minor, other_amount_minor, difference_minor, details, subject_at)`;

/**
 * Operations against the server's balance records, in one full join on (server, reference):
 * - **missing on the server**: a money operation the CRM decided before the server's cut-off whose reference is in
 *   no balance record the server wrote before it. Looked at: operations that succeeded since the horizon (the CRM
 *   believes the money is there), every operation still open (whenever created), and a failed or cancelled one whose
 *   movement still waits for the server (a deposit received but never posted);
 * - **on the server but not in the CRM**: a balance record of the horizon with no reference, a reference the CRM does
 *   not know, or an operation the CRM had not booked as succeeded by the cut-off (linked to the external change
 *   recorded for it, if any);
 * - **amount mismatch**: booked by the CRM with another amount, currency or account.
 * Records are read from a day before the oldest operation looked at (a record is never older than its operation),
 * operations from that day on or still open.
 */
function serverSide(scope: CompareScope): SQL {
  const H = ts(scope.horizonStart);
  const C = ts(scope.cutoffAt);
  const open = sql`('waiting', 'pending', 'in_flight', 'unknown', 'needs_review')`;
  // Records are read from a day before the horizon (a record is never older than its operation; operations older than
  // that have their records looked up one by one below).
  const since = sql`(${H} - interval '1 day')`;
  // The join carries only what decides; the rows found (few) are read in full afterwards, row by row through their
  // primary keys (lateral, so the planner, which cannot tell how few they are, does not hash whole tables for them).
  return sql`with ${srv(scope)},
  waiting as (
    select o.id, o.created_at from money_movements m join operations o on o.id in (m.operation_id, m.return_operation_id)
    where m.status in ('posting_failed', 'reversal_failed') and o.status in ('failed', 'cancelled')
  ),
  -- Operations of the breaks still open as missing on the server (listed before the comparison): looked at whatever
  -- their age, so that each such break is seen again or cleared, never left open because it is old.
  breaking as (
    select (jsonb_array_elements_text(${JSON.stringify(scope.openMissingOperations)}::jsonb))::uuid as id
  ),
  o as (
    select o.id, o.server_code, o.reference, o.status, o.login, (o.payload->>'amount')::bigint as amount,
      o.payload->>'currency' as currency, o.finished_at, o.created_at,
      o.created_at < s.cutoff_at
        and ((o.status = 'succeeded' and (o.created_at >= ${H} or o.id in (select id from breaking)))
          or o.status in ${open} or o.id in (select id from waiting)) as expected
    from operations o join srv s on s.server_code = o.server_code
    where o.kind in ('balance', 'credit')
      and (o.created_at >= ${since} or o.finished_at >= ${since} or o.status in ${open}
        or o.id in (select id from waiting) or o.id in (select id from breaking))
  ),
  r as (
    select r.id, r.server_code, r.reference, r.login, r.amount_minor, r.time
    from trade_records r join srv s on s.server_code = r.server_code
    where r.record_type = 'balance' and r.time >= ${since} and r.time < s.cutoff_at
  ),
  j as (
    select r.id as r_id, r.time as r_time, r.amount_minor as r_amount, r.login as r_login,
      coalesce(r.server_code, o.server_code) as server_code, o.expected and old.id is null as expected,
      coalesce(o.id, late.id) as op_id, coalesce(o.status, late.status) as op_status,
      coalesce(o.finished_at, late.finished_at) as op_finished, coalesce(o.amount, late.amount) as op_amount,
      coalesce(o.login, late.login) as op_login, coalesce(o.currency, late.currency) as op_currency
    from o full join r on r.server_code = o.server_code and r.reference = o.reference
    -- A record carrying the reference of an operation older than the operations read (a copy a dealer made days
    -- later): the operation is found by its reference (unique), so the record is judged against it rather than
    -- taken for an unknown reference.
    left join lateral (
      select lo.id, lo.status, lo.finished_at, (lo.payload->>'amount')::bigint as amount, lo.login,
        lo.payload->>'currency' as currency
      from operations lo
      where o.id is null and r.reference is not null and lo.reference = r.reference
        and lo.server_code = r.server_code and lo.kind in ('balance', 'credit')
      offset 0
    ) late on true
    -- An operation older than the records read (one still open, waiting, or behind an open break) whose record is
    -- older too: found on its account (the account index), so it is not taken for missing. Records are read from a
    -- day before the horizon only: one operation left open for weeks does not make every run read weeks of records.
    left join lateral (
      select orr.id from trade_records orr
      where r.id is null and o.expected and o.created_at < ${since} + interval '1 day'
        and orr.server_code = o.server_code and orr.login = o.login and orr.record_type = 'balance'
        and orr.time >= o.created_at - interval '1 day' and orr.time < ${since} and orr.reference = o.reference
      limit 1
    ) old on true
  ),
  found as materialized (
    select * from (
      select j.op_id, j.r_id, ta.id as ta_id,
        case
          when j.r_id is null then case when j.expected then 'missing_on_server' end
          when j.r_time < ${H} then null
          when j.op_id is null or j.op_status <> 'succeeded' or j.op_finished >= ${C} then 'server_not_in_crm'
          when j.r_amount <> j.op_amount or j.r_login <> j.op_login
            or coalesce(j.op_currency, ta.currency) <> ta.currency
            then 'amount_mismatch'
        end as finding
      from j
      left join trading_accounts ta on ta.server_code = j.server_code and ta.login = coalesce(j.r_login, j.op_login)
    ) classified
    where finding is not null
  ),
  f as (
    select found.finding, found.ta_id, op.id as op_id, op.reference as op_reference, op.kind as op_kind,
      op.status as op_status, op.server_code as op_server, op.login as op_login,
      (op.payload->>'amount')::bigint as op_amount, op.payload->>'currency' as op_currency, op.attempts, op.last_error,
      op.handler, op.correlation_id, op.created_at as op_created, op.finished_at as op_finished,
      rec.id as r_id, rec.server_code as r_server, rec.login as r_login, rec.ticket, rec.reference as r_reference,
      rec.amount_minor, rec.balance_kind, rec.comment, rec.time as r_time, ta.client_id as ta_client,
      ta.currency as ta_currency, s.cutoff_at
    from found
    left join lateral (select * from operations where id = found.op_id offset 0) op on true
    left join lateral (select * from trade_records where id = found.r_id offset 0) rec on true
    left join lateral (select * from trading_accounts where id = found.ta_id offset 0) ta on true
    join srv s on s.server_code = coalesce(rec.server_code, op.server_code)
  )
  ${INSERT}
  select ${scope.runId}::uuid,
    case f.finding when 'missing_on_server' then 'missing_on_server:' || f.op_reference
      when 'server_not_in_crm' then 'server_not_in_crm:' || f.r_server || ':' || f.ticket
      else 'amount_mismatch:server:' || f.r_server || ':' || f.ticket end,
    f.finding, 'server', coalesce(f.r_server, f.op_server), coalesce(f.r_login, f.op_login), f.ta_id,
    coalesce(m.client_id, f.ta_client), m.id, f.op_id, coalesce(f.r_reference, f.op_reference), f.r_id,
    case when f.finding = 'missing_on_server' then m.psp end, null, x.id,
    coalesce(f.ta_currency, f.op_currency, m.currency),
    case when f.finding = 'server_not_in_crm' then 0 else f.op_amount end,
    coalesce(f.amount_minor, 0),
    coalesce(f.amount_minor, 0) - case when f.finding = 'server_not_in_crm' then 0 else f.op_amount end,
    case when f.finding = 'missing_on_server' then
      jsonb_build_object('operationKind', f.op_kind, 'operationStatus', f.op_status, 'attempts', f.attempts,
        'lastError', f.last_error, 'handler', f.handler, 'movementKind', m.kind, 'movementStatus', m.status,
        'serverCutoff', f.cutoff_at, 'timing', f.op_status = 'succeeded' and f.op_finished >= f.cutoff_at)
    else
      jsonb_build_object('ticket', f.ticket, 'recordKind', f.balance_kind, 'comment', f.comment,
        'operationStatus', f.op_status, 'operationKind', f.op_kind, 'externalChangeStatus', x.status,
        'reason', case when f.r_reference is null then 'no_reference' when f.op_id is null then 'unknown_reference'
                       when f.op_status <> 'succeeded' then 'operation_not_succeeded'
                       when f.finding = 'server_not_in_crm' then 'booked_after_cutoff' else 'differs' end,
        'timing', f.finding = 'server_not_in_crm' and f.op_status = 'succeeded',
        'differs', case when f.finding = 'amount_mismatch' then jsonb_strip_nulls(jsonb_build_object(
          'amount', case when f.amount_minor <> f.op_amount
            then jsonb_build_object('server', f.amount_minor, 'crm', f.op_amount) end,
          'currency', case when coalesce(f.op_currency, f.ta_currency) <> f.ta_currency
            then jsonb_build_object('server', f.ta_currency, 'crm', f.op_currency) end,
          'login', case when f.r_login <> f.op_login
            then jsonb_build_object('server', f.r_login, 'crm', f.op_login) end)) end)
    end,
    case when f.finding = 'missing_on_server' then f.op_created else f.r_time end
  from f
  ${movementOf(sql`f.correlation_id`)}
  left join external_changes x on f.finding <> 'missing_on_server'
    and x.natural_key = 'balance_record:' || f.r_server || ':' || f.ticket`;
}

/**
 * Two or more balance records on one server carrying one reference (the CRM made one operation), the latest in the
 * horizon. Searched among the records of the week before the horizon (a copy made later still shows as the
 * account's balance drift).
 */
function serverDuplicates(scope: CompareScope): SQL {
  const since = sql`${ts(scope.horizonStart)} - interval '7 days'`;
  return sql`with ${srv(scope)},
  dup as (
    select r.server_code, r.reference
    from trade_records r join srv s on s.server_code = r.server_code
    where r.record_type = 'balance' and r.reference is not null and r.time >= ${since} and r.time < s.cutoff_at
    group by r.server_code, r.reference
    having count(*) > 1 and max(r.time) >= ${ts(scope.horizonStart)}
  ),
  d as (
    select r.server_code, r.reference, count(*) as n, sum(r.amount_minor) as total, min(r.time) as first_at,
      min(r.login) as login, jsonb_agg(jsonb_build_object('id', r.id, 'ticket', r.ticket, 'amountMinor', r.amount_minor,
        'time', r.time, 'comment', r.comment) order by r.time, r.id) as records
    from trade_records r
    join dup on dup.server_code = r.server_code and dup.reference = r.reference
    join srv s on s.server_code = r.server_code
    where r.record_type = 'balance' and r.time >= ${since} and r.time < s.cutoff_at
    group by r.server_code, r.reference
  )
  ${INSERT}
  select ${scope.runId}::uuid, 'duplicate:server:' || d.server_code || ':' || d.reference, 'duplicate', 'server',
    d.server_code, d.login, ta.id, coalesce(m.client_id, ta.client_id), m.id, o.id, d.reference,
    (d.records->0->>'id')::bigint, null, null, null, coalesce(ta.currency, o.payload->>'currency'),
    coalesce((o.payload->>'amount')::bigint, 0), d.total, d.total - coalesce((o.payload->>'amount')::bigint, 0),
    jsonb_build_object('records', d.records, 'count', d.n, 'operationStatus', o.status, 'operationKind', o.kind),
    d.first_at
  from d
  left join lateral (
    select * from operations where reference = d.reference and server_code = d.server_code offset 0
  ) o on true
  ${movementOf(sql`o.correlation_id`)}
  left join lateral (
    select * from trading_accounts where server_code = d.server_code and login = d.login offset 0
  ) ta on true`;
}

/**
 * Account balance drift: the balance (and credit) each live account's server reported during the run, against what
 * the CRM expects: the ledger's client-visible balance of the trading account (the ledger records money, not trading)
 * plus the trading result (profit, commission, swap) of the account's synced deals and closed trades up to the
 * moment it was read. Accounts whose money operations were in motion while they were read are skipped.
 */
function balanceDrift(scope: CompareScope): SQL {
  return sql`with snap as materialized (
    select b.*, ta.id as ta_id, ta.client_id, ta.currency
    from recon_account_balances b
    join trading_accounts ta on ta.server_code = b.server_code and ta.login = b.login
    where b.run_id = ${scope.runId}::uuid and b.skipped_reason is null
  ),
  led as (
    select a.owner_id, a.type, a.currency, sum(e.amount_minor) as balance
    from ledger_accounts a join ledger_entries e on e.account_id = a.id
    where a.type in ('trading_account', 'trading_credit')
    group by a.owner_id, a.type, a.currency
  ),
  tr as (
    select r.server_code, r.login,
      sum(coalesce(r.profit_minor, 0) + coalesce(r.commission_minor, 0) + coalesce(r.swap_minor, 0)) as result
    from trade_records r join snap s on s.server_code = r.server_code and s.login = r.login
    where r.record_type in ('deal', 'closed_trade') and r.time <= s.read_at
    group by r.server_code, r.login
  ),
  x as (
    select s.*, -coalesce(lb.balance, 0) as ledger_balance, -coalesce(lc.balance, 0) as ledger_credit,
      coalesce(tr.result, 0) as trading_result
    from snap s
    left join led lb on lb.owner_id = s.ta_id::text and lb.type = 'trading_account' and lb.currency = s.currency
    left join led lc on lc.owner_id = s.ta_id::text and lc.type = 'trading_credit' and lc.currency = s.currency
    left join tr on tr.server_code = s.server_code and tr.login = s.login
  )
  ${INSERT}
  select ${scope.runId}::uuid, 'balance_drift:' || server_code || ':' || login, 'balance_drift', 'account', server_code,
    login, ta_id, client_id, null, null, null, null, null, null, null, currency,
    ledger_balance + trading_result, balance_minor, balance_minor - (ledger_balance + trading_result),
    jsonb_build_object('ledgerBalance', ledger_balance, 'tradingResult', trading_result, 'serverBalance', balance_minor,
      'serverCredit', credit_minor, 'ledgerCredit', ledger_credit, 'creditDifference', credit_minor - ledger_credit,
      'readAt', read_at),
    read_at
  from x
  where balance_minor <> ledger_balance + trading_result or credit_minor <> ledger_credit`;
}

/**
 * The run's PSP lines against what the CRM booked, in one full join on (movement, payment or payout):
 * - **in the PSP but not in the CRM**: a line from the horizon on whose merchant reference names no movement of the
 *   right kind (a refund or chargeback must name a deposit), a payment whose deposit the CRM had not approved by the
 *   cut-off (ledger `deposit.received`), a payout the CRM had not booked as paid (`withdrawal.paid`);
 * - **in the CRM but not in the PSP**: a deposit approved or a withdrawal paid out since the horizon with no line
 *   among those the run fetched (which start a while before the horizon: the PSP settles before its webhook arrives);
 * - **amount mismatch**: a payment or payout line with another amount or currency than its movement.
 */
function pspSide(scope: CompareScope): SQL {
  const H = ts(scope.horizonStart);
  const C = ts(scope.cutoffAt);
  // The CRM books a payment or payout after the PSP settled it (an hour's grace for the two clocks).
  const since = sql`${ts(scope.pspLinesFrom)} - interval '1 hour'`;
  // Only funding posts these two kinds, always with the movement's id in the correlation. The join carries only what
  // decides; the rows found (few) are read in full afterwards, row by row through their primary keys (lateral, so
  // the planner, which cannot tell how few they are, does not hash whole tables for them).
  return sql`with l as (
    select id, type, movement_id, amount_minor, currency, occurred_at from recon_psp_lines
    where run_id = ${scope.runId}::uuid and psp = ${scope.psp}
  ),
  b as (
    select (t.correlation->>'movementId')::uuid as movement_id, t.created_at as booked_at,
      case when t.kind = 'withdrawal.paid' then 'payout' else 'payment' end as type
    from ledger_transactions t
    where t.kind in ('deposit.received', 'withdrawal.paid') and t.created_at >= ${since} and t.created_at < ${C}
  ),
  found as materialized (
    select * from (
      select l.id as line_id, m.id as m_id, b.type as b_type, b.booked_at,
        case
          when l.id is null then case when b.booked_at >= ${H} and m.id is not null then 'crm_not_in_psp' end
          when l.occurred_at < ${H} then null
          when l.type in ('payment', 'refund', 'chargeback') and (m.id is null or m.kind <> 'deposit')
            then 'unknown_reference'
          when l.type = 'payout' and (m.id is null or m.kind <> 'withdrawal') then 'unknown_reference'
          when l.type = 'payment' and b.booked_at is null then 'not_approved_in_crm'
          when l.type = 'payout' and b.booked_at is null then 'not_paid_in_crm'
          when l.type in ('payment', 'payout')
            and ((case when l.type = 'payout' then -l.amount_minor else l.amount_minor end) <> m.amount_minor
              or l.currency <> m.currency) then 'differs'
        end as finding
      from l full join b on b.movement_id = l.movement_id and b.type = l.type
      left join money_movements m on m.id = coalesce(l.movement_id, b.movement_id) and m.psp = ${scope.psp}
    ) classified
    where finding is not null
  ),
  f as (
    select found.finding, found.b_type, found.booked_at, pl.psp_transaction_id, pl.type, pl.merchant_reference,
      pl.psp_payment_id, pl.psp_payout_id, pl.amount_minor, pl.currency, pl.occurred_at, m.id as m_id,
      m.kind as m_kind, m.status as m_status, m.amount_minor as m_amount, m.currency as m_currency, m.client_id,
      m.trading_account_id, m.operation_id, m.psp_payment_id as m_payment, m.psp_payout_id as m_payout,
      case when coalesce(pl.type, found.b_type) = 'payout' then -m.amount_minor else m.amount_minor end as m_signed
    from found
    left join lateral (select * from recon_psp_lines where id = found.line_id offset 0) pl on true
    left join lateral (select * from money_movements where id = found.m_id offset 0) m on true
  )
  ${INSERT}
  select ${scope.runId}::uuid,
    case when finding = 'crm_not_in_psp' then 'crm_not_in_psp:' || ${scope.psp}::text || ':' || m_id
         when finding = 'differs' then 'amount_mismatch:psp:' || ${scope.psp}::text || ':' || psp_transaction_id
         else 'psp_not_in_crm:' || ${scope.psp}::text || ':' || psp_transaction_id end,
    case finding when 'crm_not_in_psp' then 'crm_not_in_psp' when 'differs' then 'amount_mismatch'
      else 'psp_not_in_crm' end,
    'psp', null, null, trading_account_id, client_id, m_id, operation_id, null, null, ${scope.psp}::text,
    psp_transaction_id, null, coalesce(currency, m_currency),
    case when finding in ('differs', 'crm_not_in_psp') then m_signed else 0 end,
    coalesce(amount_minor, 0),
    coalesce(amount_minor, 0) - case when finding in ('differs', 'crm_not_in_psp') then m_signed else 0 end,
    case when finding = 'crm_not_in_psp' then
      jsonb_build_object('type', b_type, 'movementKind', m_kind, 'movementStatus', m_status, 'pspPaymentId', m_payment,
        'pspPayoutId', m_payout, 'bookedAt', booked_at)
    else
      jsonb_build_object('type', type, 'merchantReference', merchant_reference, 'pspPaymentId', psp_payment_id,
        'pspPayoutId', psp_payout_id, 'reason', finding, 'movementStatus', m_status, 'movementCurrency', m_currency,
        'occurredAt', occurred_at,
        'timing', finding in ('not_approved_in_crm', 'not_paid_in_crm')
          and m_status in ('approved', 'posted', 'posting_failed', 'reversing', 'refunded', 'charged_back',
            'reversal_failed', 'completed'))
    end,
    case when finding = 'crm_not_in_psp' then booked_at else occurred_at end
  from f`;
}

/**
 * Refunds and chargebacks per deposit: what the PSP took back (every line any run fetched, each once) against what
 * the CRM recorded as taken back.
 */
function pspRefunds(scope: CompareScope): SQL {
  return sql`with touched as (
    select distinct movement_id from recon_psp_lines
    where run_id = ${scope.runId}::uuid and psp = ${scope.psp} and type in ('refund', 'chargeback')
      and movement_id is not null and occurred_at >= ${ts(scope.horizonStart)}
  ),
  lines as (
    select distinct on (l.psp_transaction_id) l.*
    from recon_psp_lines l join touched t on t.movement_id = l.movement_id
    where l.psp = ${scope.psp} and l.type in ('refund', 'chargeback') and l.occurred_at < ${ts(scope.cutoffAt)}
      and l.movement_id is not null
    order by l.psp_transaction_id, l.id desc
  ),
  per as (
    select movement_id, -sum(amount_minor) as taken, max(occurred_at) as last_at,
      jsonb_agg(psp_transaction_id order by occurred_at) as lines
    from lines group by movement_id
  )
  ${INSERT}
  select ${scope.runId}::uuid, 'amount_mismatch:psp_refunds:' || ${scope.psp}::text || ':' || m.id, 'amount_mismatch', 'psp',
    null, null, m.trading_account_id, m.client_id, m.id, m.return_operation_id, null, null, ${scope.psp}::text, null, null,
    m.currency, -m.refunded_minor, -per.taken, m.refunded_minor - per.taken,
    jsonb_build_object('reason', 'refunds_differ', 'pspTakenBack', per.taken, 'crmTakenBack', m.refunded_minor,
      'lines', per.lines, 'movementStatus', m.status),
    per.last_at
  from per
  join money_movements m on m.id = per.movement_id and m.kind = 'deposit'
  where per.taken <> m.refunded_minor`;
}

/** Two or more PSP lines of one kind (payment, payout) for one merchant reference. */
function pspDuplicates(scope: CompareScope): SQL {
  return sql`with dup as materialized (
    select type, merchant_reference
    from recon_psp_lines
    where run_id = ${scope.runId}::uuid and psp = ${scope.psp} and type in ('payment', 'payout')
    group by type, merchant_reference
    having count(*) > 1 and max(occurred_at) >= ${ts(scope.horizonStart)}
  ),
  d as (
    select l.type, l.merchant_reference, min(l.movement_id::text) as movement_id, count(*) as n,
      sum(l.amount_minor) as total, min(l.occurred_at) as first_at, min(l.currency) as currency,
      jsonb_agg(jsonb_build_object('pspTransactionId', l.psp_transaction_id, 'amountMinor', l.amount_minor,
        'occurredAt', l.occurred_at) order by l.occurred_at) as lines,
      min(l.psp_transaction_id) as first_tx
    from recon_psp_lines l join dup on dup.type = l.type and dup.merchant_reference = l.merchant_reference
    where l.run_id = ${scope.runId}::uuid and l.psp = ${scope.psp}
    group by l.type, l.merchant_reference
  )
  ${INSERT}
  select ${scope.runId}::uuid, 'duplicate:psp:' || ${scope.psp}::text || ':' || d.type || ':' || d.merchant_reference,
    'duplicate', 'psp', null, null, m.trading_account_id, m.client_id, m.id, m.operation_id, null, null, ${scope.psp}::text,
    d.first_tx, null, d.currency,
    coalesce(case when d.type = 'payout' then -m.amount_minor else m.amount_minor end, 0), d.total,
    d.total - coalesce(case when d.type = 'payout' then -m.amount_minor else m.amount_minor end, 0),
    jsonb_build_object('type', d.type, 'merchantReference', d.merchant_reference, 'count', d.n, 'lines', d.lines,
      'movementStatus', m.status),
    d.first_at
  from d
  left join lateral (select * from money_movements where id = d.movement_id::uuid offset 0) m on true`;
}

/**
 * Marks snapshot rows that cannot be compared: the server's history is not synced up to when the account was read
 * (its latest deals and records are in the balance but not in the CRM: a failed or skipped history pass, a server
 * never synced); a money operation on the account was in motion while it was read (the server may have applied what
 * the ledger books only later); or the run's own sync then booked a change the dealer made after the account was
 * read (the ledger has it, the balance read does not).
 */
function skipAccountsInMotion(scope: CompareScope): SQL {
  const histories = JSON.stringify(
    scope.histories.map((h) => ({ server_code: h.serverCode, synced_to: h.syncedTo?.toISOString() ?? null })),
  );
  const unsynced = sql`not exists (select 1 from hist h where h.server_code = b.server_code and h.synced_to >= b.read_at)`;
  return sql`with hist as (
    select * from jsonb_to_recordset(${histories}::jsonb) as h(server_code text, synced_to timestamptz)
  )
  update recon_account_balances b set skipped_reason = case
      when ${unsynced} then 'the server''s trade history is not synced up to when the balance was read'
      else 'the account was changing while it was read' end
  where b.run_id = ${scope.runId}::uuid and b.skipped_reason is null
    and (${unsynced}
      or exists (select 1 from operations o where o.server_code = b.server_code and o.login = b.login
          and o.kind in ('balance', 'credit')
          and (o.status in ('in_flight', 'unknown') or o.finished_at >= ${ts(scope.snapshotStartedAt ?? scope.now)}))
      or exists (select 1 from external_changes x where x.server_code = b.server_code and x.login = b.login
          and x.kind = 'balance_record' and x.occurred_at >= b.read_at))`;
}

function affected(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number };
  return Number(r.rowCount ?? r.affectedRows ?? 0);
}

/** The comparison statements for a scope (each inserts the breaks it finds into `recon_run_breaks`). */
export function comparisonStatements(scope: CompareScope): { name: string; statement: SQL; afterSkip?: boolean }[] {
  const steps: { name: string; statement: SQL; afterSkip?: boolean }[] = [];
  if (scope.snapshotStartedAt !== null) {
    // Reads the snapshot rows the skip marks: after it, in its transaction.
    steps.push({ name: 'account balances against the ledger', statement: balanceDrift(scope), afterSkip: true });
  }
  if (scope.servers.length > 0) {
    steps.push({ name: 'operations against server records', statement: serverSide(scope) });
    steps.push({ name: 'duplicate server records', statement: serverDuplicates(scope) });
  }
  if (scope.psp !== null) {
    steps.push({ name: 'PSP lines against movements', statement: pspSide(scope) });
    steps.push({ name: 'PSP refunds and chargebacks', statement: pspRefunds(scope) });
    steps.push({ name: 'duplicate PSP lines', statement: pspDuplicates(scope) });
  }
  return steps;
}

export interface CompareOptions {
  /**
   * Statements run on this many connections at once, all on one snapshot of the database (PostgreSQL exports the
   * first transaction's snapshot, the others import it), so the comparison is as consistent as in one transaction
   * and uses more than one core: INSERT … SELECT never gets parallel workers of its own. 1 = one transaction.
   */
  lanes: number;
  /** Per-transaction settings (e.g. work_mem), run first in each lane. */
  prepare?: (tx: Executor) => Promise<void>;
  onStep?: (step: string, done: number, total: number) => void;
}

/**
 * Runs every comparison of the run. Each lane is one repeatable-read transaction; they commit before this returns
 * (the merge, in a transaction of its own, then reads everything they found). Returns how many accounts were
 * skipped as in motion.
 */
export async function compareSources(db: Db, scope: CompareScope, options: CompareOptions): Promise<number> {
  const steps = comparisonStatements(scope);
  const queue = steps.filter((s) => !s.afterSkip);
  let done = 0;
  const runStep = async (tx: Executor, step: { name: string; statement: SQL }) => {
    options.onStep?.(step.name, done, steps.length);
    await tx.execute(step.statement);
    done += 1;
  };
  const drain = async (tx: Executor) => {
    for (let step = queue.shift(); step; step = queue.shift()) await runStep(tx, step);
  };
  let skipped = 0;
  await db.transaction(
    async (lead) => {
      await options.prepare?.(lead);
      const helpers: Promise<void>[] = [];
      if (options.lanes > 1 && queue.length > 1) {
        const exported = (await lead.execute(sql`select pg_export_snapshot() as snapshot`)) as unknown as {
          rows: { snapshot: string }[];
        };
        const snapshot = exported.rows[0]?.snapshot ?? '';
        if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error(`unexpected snapshot id ${snapshot}`);
        for (let i = 1; i < options.lanes; i++) {
          helpers.push(
            db.transaction(
              async (tx) => {
                await tx.execute(sql.raw(`set transaction snapshot '${snapshot}'`));
                await options.prepare?.(tx);
                await drain(tx);
              },
              { isolationLevel: 'repeatable read' },
            ),
          );
        }
      }
      const own = (async () => {
        if (scope.snapshotStartedAt !== null) skipped = affected(await lead.execute(skipAccountsInMotion(scope)));
        for (const step of steps.filter((s) => s.afterSkip)) await runStep(lead, step);
        await drain(lead);
      })();
      // The lead transaction stays open until every lane is done (its snapshot must outlive their import), and no
      // lane is abandoned while it still uses its connection.
      const settled = await Promise.allSettled([own, ...helpers]);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    { isolationLevel: 'repeatable read' },
  );
  options.onStep?.('comparisons done', steps.length, steps.length);
  return skipped;
}

export interface MergeResult {
  seen: number;
  opened: number;
  reopened: number;
  cleared: number;
}

/**
 * Folds the run's observations into `recon_breaks`: a new key opens a break; a known one is continued (its latest
 * figures and links updated, when this run's cut-off is not older than the last sighting); one that had cleared by
 * itself opens again. A break resolved by staff stays resolved while runs see it with the figures its resolution
 * settled (a written-off duplicate still on the server), and opens again when a run sees other figures under the
 * same key (another copy; an account drifting again after its drift was written off). Then every open break this run
 * could have seen but did not is cleared. Each opening, reopening and clearing is a break event.
 */
export async function mergeBreaks(tx: Executor, scope: CompareScope, businessDate: string): Promise<MergeResult> {
  const run = sql`${scope.runId}::uuid`;
  const now = ts(scope.now);
  const C = ts(scope.cutoffAt);
  // A break cleared by an earlier run and seen again, or resolved by staff and seen with new figures, opens again.
  const reopens = sql`((recon_breaks.resolution = 'cleared'
      and excluded.last_seen_cutoff >= (select r.cutoff_at from recon_runs r where r.id = recon_breaks.resolved_by_run_id))
    or recon_breaks.key in (select key from staff_reopen))`;
  const upsert = await tx.execute(sql`with prior as (
    select b.key, b.status, b.resolution
    from recon_breaks b join recon_run_breaks rb on rb.break_key = b.key and rb.run_id = ${run}
  ),
  staff_reopen as (
    -- Resolved by staff, seen again by a run not older than the last sighting, with figures other than those the
    -- resolution settled (a third copy of a written-off duplicate, an account drifting again after its drift was
    -- written off): a new mismatch under the same key, which must not hide behind the old resolution.
    select b.key
    from recon_breaks b
    join recon_run_breaks rb on rb.break_key = b.key and rb.run_id = ${run}
    left join lateral (
      select e.details->'settled' as settled from recon_break_events e
      where e.break_id = b.id and e.action in ('written_off', 'external_change_linked')
      order by e.id desc limit 1
    ) s on true
    where b.status = 'resolved' and b.resolution in ('written_off', 'linked_external_change')
      and ${C} >= b.last_seen_cutoff
      and (b.side <> 'account' or (rb.details->>'readAt')::timestamptz > b.resolved_at)
      and (rb.difference_minor is distinct from coalesce((s.settled->>'differenceMinor')::bigint, b.difference_minor)
        or (b.side = 'account' and (rb.details->>'creditDifference')::bigint is distinct from
          coalesce((s.settled->>'creditDifferenceMinor')::bigint, (b.details->>'creditDifference')::bigint)))
  ),
  up as (
    insert into recon_breaks (key, class, side, status, server_code, login, trading_account_id, client_id, movement_id,
      operation_id, reference, trade_record_id, psp, psp_transaction_id, external_change_id, currency, crm_amount_minor,
      other_amount_minor, difference_minor, details, subject_at, first_seen_run_id, first_seen_at, last_seen_run_id,
      last_seen_at, last_seen_cutoff, times_seen, updated_at)
    select rb.break_key, rb.class, rb.side, 'open', rb.server_code, rb.login, rb.trading_account_id, rb.client_id,
      rb.movement_id, rb.operation_id, rb.reference, rb.trade_record_id, rb.psp, rb.psp_transaction_id,
      rb.external_change_id, rb.currency, rb.crm_amount_minor, rb.other_amount_minor, rb.difference_minor, rb.details,
      rb.subject_at, ${run}, ${now}, ${run}, ${now}, ${C}, 1, ${now}
    from recon_run_breaks rb where rb.run_id = ${run}
    on conflict (key) do update set
      times_seen = recon_breaks.times_seen + 1,
      updated_at = excluded.updated_at,
      last_seen_run_id = case when excluded.last_seen_cutoff >= recon_breaks.last_seen_cutoff
        then excluded.last_seen_run_id else recon_breaks.last_seen_run_id end,
      last_seen_at = case when excluded.last_seen_cutoff >= recon_breaks.last_seen_cutoff
        then excluded.last_seen_at else recon_breaks.last_seen_at end,
      last_seen_cutoff = greatest(recon_breaks.last_seen_cutoff, excluded.last_seen_cutoff),
      server_code = coalesce(excluded.server_code, recon_breaks.server_code),
      login = coalesce(excluded.login, recon_breaks.login),
      trading_account_id = coalesce(excluded.trading_account_id, recon_breaks.trading_account_id),
      client_id = coalesce(excluded.client_id, recon_breaks.client_id),
      movement_id = coalesce(excluded.movement_id, recon_breaks.movement_id),
      operation_id = coalesce(excluded.operation_id, recon_breaks.operation_id),
      reference = coalesce(excluded.reference, recon_breaks.reference),
      trade_record_id = coalesce(excluded.trade_record_id, recon_breaks.trade_record_id),
      psp_transaction_id = coalesce(excluded.psp_transaction_id, recon_breaks.psp_transaction_id),
      external_change_id = coalesce(recon_breaks.external_change_id, excluded.external_change_id),
      currency = coalesce(excluded.currency, recon_breaks.currency),
      crm_amount_minor = case when excluded.last_seen_cutoff >= recon_breaks.last_seen_cutoff
        then excluded.crm_amount_minor else recon_breaks.crm_amount_minor end,
      other_amount_minor = case when excluded.last_seen_cutoff >= recon_breaks.last_seen_cutoff
        then excluded.other_amount_minor else recon_breaks.other_amount_minor end,
      difference_minor = case when excluded.last_seen_cutoff >= recon_breaks.last_seen_cutoff
        then excluded.difference_minor else recon_breaks.difference_minor end,
      details = case when excluded.last_seen_cutoff >= recon_breaks.last_seen_cutoff
        then excluded.details else recon_breaks.details end,
      status = case when ${reopens} then 'open' else recon_breaks.status end,
      resolution = case when ${reopens} then null else recon_breaks.resolution end,
      resolved_at = case when ${reopens} then null else recon_breaks.resolved_at end,
      resolved_by = case when ${reopens} then null else recon_breaks.resolved_by end,
      resolved_by_run_id = case when ${reopens} then null else recon_breaks.resolved_by_run_id end,
      resolution_note = case when ${reopens} then null else recon_breaks.resolution_note end
    returning id, key, (xmax = 0) as inserted, status
  ),
  marked as (
    update recon_run_breaks rb
    set break_id = up.id, is_new = up.inserted or (prior.status = 'resolved' and up.status = 'open')
    from up left join prior on prior.key = up.key
    where rb.run_id = ${run} and rb.break_key = up.key
    returning rb.break_id, up.inserted, prior.status as prior_status, prior.resolution as prior_resolution, up.status
  ),
  events as (
    insert into recon_break_events (break_id, run_id, action, actor_type, actor_id, at, details)
    select break_id, ${run}, case when inserted then 'opened' else 'reopened' end, 'system', null, ${now},
      jsonb_strip_nulls(jsonb_build_object('businessDate', ${businessDate}::text, 'previousResolution', prior_resolution))
    from marked where inserted or (prior_status = 'resolved' and status = 'open')
    returning action
  )
  select count(*) filter (where action = 'opened') as opened, count(*) filter (where action = 'reopened') as reopened,
    (select count(*) from marked) as seen
  from events`);
  const counts = (upsert as unknown as { rows: { opened: string; reopened: string; seen: string }[] }).rows[0]!;

  const servers = JSON.stringify(
    scope.servers.map((s) => ({ server_code: s.serverCode, cutoff_at: s.cutoffAt.toISOString() })),
  );
  const cleared = await tx.execute(sql`with srv as (
    select * from jsonb_to_recordset(${servers}::jsonb) as s(server_code text, cutoff_at timestamptz)
  ),
  gone as (
    update recon_breaks b set status = 'resolved', resolution = 'cleared', resolved_at = ${now}, resolved_by = 'system',
      resolved_by_run_id = ${run}, updated_at = ${now},
      resolution_note = 'no longer seen by the reconciliation of ' || ${businessDate}::text
    where b.status = 'open' and b.last_seen_cutoff <= ${C}
      and not exists (select 1 from recon_run_breaks rb where rb.run_id = ${run} and rb.break_key = b.key)
      and (
        (b.side = 'server'
          and (b.subject_at >= ${ts(scope.horizonStart)} or (b.class = 'missing_on_server' and b.operation_id in
            (select (jsonb_array_elements_text(${JSON.stringify(scope.openMissingOperations)}::jsonb))::uuid)))
          and exists (select 1 from srv s where s.server_code = b.server_code and b.subject_at < s.cutoff_at))
        or (b.side = 'psp' and b.psp = ${scope.psp ?? ''}::text and ${scope.psp !== null}::boolean and b.subject_at >= ${ts(scope.horizonStart)})
        or (b.side = 'account' and exists (select 1 from recon_account_balances s where s.run_id = ${run}
          and s.server_code = b.server_code and s.login = b.login and s.skipped_reason is null))
      )
    returning b.id
  ),
  ev as (
    insert into recon_break_events (break_id, run_id, action, actor_type, actor_id, at, details)
    select id, ${run}, 'cleared', 'system', null, ${now}, jsonb_build_object('businessDate', ${businessDate}::text)
    from gone returning 1
  )
  select count(*) as cleared from ev`);
  const clearedCount = (cleared as unknown as { rows: { cleared: string }[] }).rows[0]!;
  return {
    seen: Number(counts.seen),
    opened: Number(counts.opened),
    reopened: Number(counts.reopened),
    cleared: Number(clearedCount.cleared),
  };
}
