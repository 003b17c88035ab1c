/** What `brokerdesk demo` prints once everything is up: where to go, and who to sign in as. */
import type { DemoStack } from './stack.ts';

function table(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map(
      (row) => `${indent}${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`,
    )
    .join('\n');
}

export function demoBanner(demo: DemoStack): string {
  const { urls, credentials: c } = demo;
  const out: string[] = [];
  out.push('', 'Brokerdesk demo is running', '');
  out.push(
    table([
      ['Client portal', urls.portal],
      ['Partner portal', urls.partner],
      ['Back office', urls.backoffice],
      ['API docs', urls.docs],
      ['Health', urls.health],
      ['Mailbox', `${urls.mailbox}   (every email the demo sends: verification links, alerts)`],
      ['PSP sandbox', `${urls.psp}   (control API ${urls.pspControl})`],
    ]),
  );
  out.push('', 'Trading servers (simulators with trading activity):');
  out.push(
    table(
      demo.servers.map((s) => [
        s.name,
        s.url,
        `manager ${s.managerLogin}`,
        `control ${s.controlUrl} (token ${s.controlToken})`,
      ]),
    ),
  );
  if (!c) {
    out.push(
      '',
      'Demo logins: the credentials file is not in this data folder (the database was seeded from another one).',
    );
  } else {
    out.push('', `Back office (${urls.backoffice}) — password for everyone: ${c.staff[0]?.password ?? ''}`);
    out.push(
      table(
        c.staff.map((s) => [
          s.email,
          s.roles.join(', '),
          s.totpSecret ? `TOTP secret ${s.totpSecret} (add it to an authenticator app)` : 'no two-factor',
        ]),
      ),
    );
    out.push('', `Client portal (${urls.portal}) — password for everyone: ${c.clients[0]?.password ?? ''}`);
    out.push(table(c.clients.map((x) => [x.email, x.stage])));
    out.push('', `Partner portal (${urls.partner}) — password for everyone: ${c.partners[0]?.password ?? ''}`);
    out.push(table(c.partners.map((p) => [p.email, p.level, `referral link ${p.link}`])));
    const day = c.reconciliation;
    if (day) {
      out.push(
        '',
        day.runId
          ? `Reconciliation: the run of ${day.date} (cut-off ${day.cutoffUtc.slice(11, 16)} UTC) found ${day.breaks} break(s) — Back office → Reconciliation`
          : `Reconciliation: the run of ${day.date} follows its cut-off (${day.cutoffUtc.slice(11, 16)} UTC) in the background — Back office → Reconciliation`,
      );
    }
  }
  out.push('', 'PSP test cards (any future expiry, any CVC):');
  out.push(table(demo.pspTestCards.map((card) => [card.number, card.description])));
  out.push(
    '',
    `Data: ${demo.database}; simulators, mailbox and secrets in ${demo.dataDir} — a restart keeps everything${demo.seed === 'already_seeded' ? ' (this start reused it)' : ''}.`,
  );
  if (demo.web.status === 'failed') out.push(`Web application: ${demo.web.message}`);
  out.push('Stop with Ctrl-C.', '');
  return out.join('\n');
}
