/**
 * The back-office dashboard (`GET /api/backoffice/dashboard`): the figures the charts on the first screen show, each
 * computed with one SQL statement over the tables that own them, at the context clock's now:
 * - deposits per day for the last 14 days of the viewer's time zone, per currency: started, and credited (posted);
 * - operations by status and kind;
 * - open reconciliation breaks by class, and the latest run;
 * - trade-sync lag per enabled server against the alert threshold;
 * - open (not resolved) alerts by severity, and the latest few.
 *
 * Every signed-in staff member may open the dashboard; each section is filled only when their roles may read what it
 * summarises (funding.read, operations.read, recon.read, servers.read, alerts.read), and is `null` otherwise.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app/context.ts';
import { reconBreakClasses } from '../db/schema.ts';
import { isValidTimeZone } from '../modules/reconciliation/schedule.ts';
import { can } from '../modules/staff/permissions.ts';
import { staffSession } from './staff-auth.ts';

/** How many days the deposits chart covers (today included). */
export const DASHBOARD_DAYS = 14;
const LATEST_ALERTS = 5;

const iso = z.string();
const count = z.number().int().min(0);

export const dashboardResponse = z.object({
  generatedAt: iso,
  timeZone: z.string(),
  deposits: z
    .object({
      /** The days covered, oldest first, as YYYY-MM-DD in `timeZone`. */
      days: z.array(z.string()),
      /** Currencies with at least one deposit in the period, alphabetically. */
      currencies: z.array(z.string()),
      /** One line per day and currency that had deposits (days without any are absent). */
      rows: z.array(
        z.object({
          day: z.string(),
          currency: z.string(),
          /** Deposits started that day (any status) and their amount. */
          count,
          amountMinor: z.number().int(),
          /** Of those, the ones credited to the account and not reversed (status posted). */
          postedCount: count,
          postedMinor: z.number().int(),
        }),
      ),
    })
    .nullable(),
  operations: z
    .object({
      byStatus: z.array(z.object({ status: z.string(), kind: z.string(), count })),
    })
    .nullable(),
  breaks: z
    .object({
      openByClass: z.array(z.object({ class: z.enum(reconBreakClasses), count })),
      lastRun: z
        .object({
          id: z.string(),
          businessDate: z.string(),
          status: z.string(),
          startedAt: iso,
          finishedAt: iso.nullable(),
        })
        .nullable(),
    })
    .nullable(),
  sync: z
    .object({
      lagAlertSeconds: z.number().int(),
      servers: z.array(
        z.object({
          server: z.string(),
          platform: z.string(),
          environment: z.string(),
          syncedTo: iso.nullable(),
          /** Seconds between now and the newest moment the server's history is complete to; null: never synced. */
          lagSeconds: z.number().nullable(),
          consecutiveFailures: count,
          lastError: z.string().nullable(),
        }),
      ),
    })
    .nullable(),
  alerts: z
    .object({
      openBySeverity: z.array(z.object({ severity: z.string(), count })),
      latest: z.array(
        z.object({
          id: z.string(),
          kind: z.string(),
          severity: z.string(),
          title: z.string(),
          status: z.string(),
          occurrences: count,
          lastSeenAt: iso,
        }),
      ),
    })
    .nullable(),
});
export type Dashboard = z.infer<typeof dashboardResponse>;

const toIso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const toIsoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : toIso(v));

export function registerBackofficeDashboard(root: FastifyInstance, deps: { ctx: AppContext }): void {
  const { ctx } = deps;
  const q = <T>(text: string, params: unknown[] = []) => ctx.database.query<T>(text, params);

  async function deposits(now: Date, timeZone: string): Promise<NonNullable<Dashboard['deposits']>> {
    // The window is whole days in the viewer's zone: from midnight 13 days ago to now.
    const [days, rows] = await Promise.all([
      q<{ day: string }>(
        `select to_char(d, 'YYYY-MM-DD') as day
           from generate_series(date_trunc('day', $1::timestamptz at time zone $2) - make_interval(days => $3::int - 1),
                                date_trunc('day', $1::timestamptz at time zone $2), interval '1 day') as d
          order by d`,
        [now, timeZone, DASHBOARD_DAYS],
      ),
      q<{
        day: string;
        currency: string;
        count: number;
        amount_minor: string;
        posted_count: number;
        posted_minor: string;
      }>(
        `select to_char(created_at at time zone $2, 'YYYY-MM-DD') as day,
                currency,
                count(*)::int as count,
                sum(amount_minor)::text as amount_minor,
                (count(*) filter (where status = 'posted'))::int as posted_count,
                coalesce(sum(amount_minor) filter (where status = 'posted'), 0)::text as posted_minor
           from money_movements
          where kind = 'deposit'
            and created_at >= (date_trunc('day', $1::timestamptz at time zone $2)
                               - make_interval(days => $3::int - 1)) at time zone $2
            and created_at <= $1::timestamptz
          group by 1, 2
          order by 1, 2`,
        [now, timeZone, DASHBOARD_DAYS],
      ),
    ]);
    return {
      days: days.map((d) => d.day),
      currencies: [...new Set(rows.map((r) => r.currency))].sort(),
      rows: rows.map((r) => ({
        day: r.day,
        currency: r.currency,
        count: Number(r.count),
        amountMinor: Number(r.amount_minor),
        postedCount: Number(r.posted_count),
        postedMinor: Number(r.posted_minor),
      })),
    };
  }

  async function operationsByStatus(): Promise<NonNullable<Dashboard['operations']>> {
    const rows = await q<{ status: string; kind: string; count: number }>(
      `select status, kind, count(*)::int as count from operations group by status, kind order by status, kind`,
    );
    return { byStatus: rows.map((r) => ({ status: r.status, kind: r.kind, count: Number(r.count) })) };
  }

  async function breaks(): Promise<NonNullable<Dashboard['breaks']>> {
    const [byClass, runs] = await Promise.all([
      q<{ class: (typeof reconBreakClasses)[number]; count: number }>(
        `select class, count(*)::int as count from recon_breaks where status = 'open' group by class order by class`,
      ),
      q<{ id: string; business_date: string; status: string; started_at: unknown; finished_at: unknown }>(
        `select id, business_date, status, started_at, finished_at from recon_runs order by started_at desc limit 1`,
      ),
    ]);
    const run = runs[0];
    return {
      openByClass: byClass.map((r) => ({ class: r.class, count: Number(r.count) })),
      lastRun: run
        ? {
            id: run.id,
            businessDate: run.business_date,
            status: run.status,
            startedAt: toIso(run.started_at),
            finishedAt: toIsoOrNull(run.finished_at),
          }
        : null,
    };
  }

  async function syncLag(now: Date): Promise<NonNullable<Dashboard['sync']>> {
    const rows = await q<{
      code: string;
      platform: string;
      environment: string;
      synced_to: unknown;
      lag_seconds: string | null;
      consecutive_failures: number | null;
      last_error: string | null;
    }>(
      `select s.code, s.platform, s.environment, c.synced_to,
              -- greatest() skips nulls: a server never synced has no lag, not zero.
              case when c.synced_to is not null
                   then greatest(0, extract(epoch from ($1::timestamptz - c.synced_to)))::text end as lag_seconds,
              c.consecutive_failures, c.last_error
         from trading_servers s
         left join trade_sync_cursors c on c.server_code = s.code
        where s.enabled
        order by s.code`,
      [now],
    );
    return {
      lagAlertSeconds: ctx.config.sync.lagAlertSeconds,
      servers: rows.map((r) => ({
        server: r.code,
        platform: r.platform,
        environment: r.environment,
        syncedTo: toIsoOrNull(r.synced_to),
        lagSeconds: r.lag_seconds === null ? null : Math.round(Number(r.lag_seconds) * 10) / 10,
        consecutiveFailures: Number(r.consecutive_failures ?? 0),
        lastError: r.last_error,
      })),
    };
  }

  async function openAlerts(): Promise<NonNullable<Dashboard['alerts']>> {
    const [bySeverity, latest] = await Promise.all([
      q<{ severity: string; count: number }>(
        `select severity, count(*)::int as count from alerts where status <> 'resolved' group by severity
          order by case severity when 'critical' then 0 when 'warning' then 1 else 2 end`,
      ),
      q<{
        id: string;
        kind: string;
        severity: string;
        title: string;
        status: string;
        occurrences: number;
        last_seen_at: unknown;
      }>(
        `select id, kind, severity, title, status, occurrences, last_seen_at from alerts
          where status in ('open', 'acknowledged') order by last_seen_at desc, id limit $1`,
        [LATEST_ALERTS],
      ),
    ]);
    return {
      openBySeverity: bySeverity.map((r) => ({ severity: r.severity, count: Number(r.count) })),
      latest: latest.map((r) => ({
        id: r.id,
        kind: r.kind,
        severity: r.severity,
        title: r.title,
        status: r.status,
        occurrences: Number(r.occurrences),
        lastSeenAt: toIso(r.last_seen_at),
      })),
    };
  }

  root.register(
    async (instance) => {
      const app = instance.withTypeProvider<ZodTypeProvider>();
      app.get(
        '/dashboard',
        {
          // Every staff member has a dashboard; what it shows follows their permissions (sections they may not read
          // are null).
          config: { permission: 'authenticated' },
          schema: {
            tags: ['back office'],
            summary:
              'Deposits per day, operations by status, open breaks by class, sync lag per server and open alerts (each when your roles may read it)',
            querystring: z
              .object({
                timeZone: z
                  .string()
                  .max(64)
                  .refine(isValidTimeZone, 'must be an IANA time zone such as UTC or Europe/Nicosia')
                  .default('UTC'),
              })
              .strict(),
            response: { 200: dashboardResponse },
          },
        },
        async (request): Promise<Dashboard> => {
          const roles = staffSession(request).staff.roles;
          const now = ctx.clock.now();
          const timeZone = request.query.timeZone;
          const [d, o, b, s, a] = await Promise.all([
            can(roles, 'funding.read') ? deposits(now, timeZone) : null,
            can(roles, 'operations.read') ? operationsByStatus() : null,
            can(roles, 'recon.read') ? breaks() : null,
            can(roles, 'servers.read') ? syncLag(now) : null,
            can(roles, 'alerts.read') ? openAlerts() : null,
          ]);
          return {
            generatedAt: now.toISOString(),
            timeZone,
            deposits: d,
            operations: o,
            breaks: b,
            sync: s,
            alerts: a,
          };
        },
      );
    },
    { prefix: '/api/backoffice' },
  );
}
