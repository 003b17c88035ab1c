/**
 * The go-live routes through the whole HTTP app on real PostgreSQL, simulators and PSP sandbox: the checklist by
 * permission, a rehearsal started in the background (with a worker's engine running, as in production), refused
 * while one runs or when the setup is missing, and its report served while it runs and after.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FundingTestbed, fundingTestbed } from '../../test/support/funding-testbed.ts';
import { systemClock } from '../clock.ts';
import { OperationsEngine } from '../operations/engine.ts';

describe('back-office go-live routes', () => {
  let t: FundingTestbed;
  let engine: OperationsEngine;
  let payouts: NodeJS.Timeout;
  let admin: string;
  let dealing: string;
  let support: string;
  let ip = 0;

  const call = async (options: InjectOptions & { cookie?: string }): Promise<LightMyRequestResponse> => {
    const { cookie, ...rest } = options;
    ip += 1;
    const r = await t.app.inject({
      ...rest,
      headers: { ...(cookie ? { cookie } : {}) },
      remoteAddress: `10.8.${Math.floor(ip / 250)}.${(ip % 250) + 1}`,
    });
    expect(r.body).not.toMatch(/\n\s+at\s|"stack"|\.[cm]?[jt]s:\d+|node_modules/);
    return r;
  };

  beforeAll(async () => {
    t = await fundingTestbed();
    t.clock.set(new Date());
    admin = await t.staffCookie(['admin']);
    dealing = await t.staffCookie(['dealing']);
    support = await t.staffCookie(['support']);
    await t.product({
      code: 'demo-usd',
      environment: 'demo',
      serverCode: 'mt5-demo',
      groupName: 'demo\\standard-usd',
      demoDeposit: 100_000,
    });
    // The worker's part, on real time: operations and payouts.
    engine = new OperationsEngine(
      { ...t.ctx.operationsDeps(), clock: systemClock },
      { verifyDelayMs: 2000, pollMs: 50 },
    );
    await engine.start();
    payouts = setInterval(() => void t.ctx.funding.dispatchPayouts().catch(() => undefined), 200);
  });
  afterAll(async () => {
    clearInterval(payouts);
    await engine?.stop();
    await t?.close();
  });

  it('runs the checklist for servers.read, and with a test alert for servers.manage', async () => {
    expect((await call({ url: '/api/backoffice/golive/checks', cookie: support })).statusCode).toBe(403);
    const read = await call({ url: '/api/backoffice/golive/checks', cookie: dealing });
    expect(read.statusCode, read.body).toBe(200);
    const report = read.json();
    expect(report.status).toBe('fail');
    expect(report.summary.pass + report.summary.warn + report.summary.fail).toBe(report.checks.length);
    expect(report.checks.find((c: { id: string }) => c.id === 'server:mt5-demo:connect')).toMatchObject({
      status: 'pass',
      fix: null,
    });
    expect(report.checks.find((c: { id: string }) => c.id === 'payments:psp')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/PSP_URL/),
    });

    const url = '/api/backoffice/golive/checks';
    expect((await call({ method: 'POST', url, cookie: dealing, payload: { sendTestAlert: true } })).statusCode).toBe(
      403,
    );
    const bad = await call({ method: 'POST', url, cookie: admin, payload: { sendTestAlert: 'yes' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/sendTestAlert/);
    const run = await call({ method: 'POST', url, cookie: admin, payload: { sendTestAlert: true } });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json().checks.find((c: { id: string }) => c.id === 'alerts:channels')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/ALERT_WEBHOOK_URL/),
    });
  });

  it('starts a rehearsal in the background, refuses a second one and a missing setup, and serves its report', async () => {
    const url = '/api/backoffice/golive/rehearsals';
    const refused = await call({ method: 'POST', url, cookie: admin, payload: {} });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({
      code: 'REHEARSAL_REFUSED',
      message: expect.stringMatching(/GOLIVE_SIM_CONTROL_URL/),
    });

    process.env.GL_H_SIM_TOKEN = t.demo.controlToken;
    process.env.GL_H_PSP_TOKEN = t.psp.psp.controlToken;
    Object.assign(t.ctx.config.golive, {
      simulatorControlUrl: t.demo.controlUrl,
      simulatorControlTokenSecret: 'env:GL_H_SIM_TOKEN',
      pspControlUrl: t.psp.psp.controlUrl,
      pspControlTokenSecret: 'env:GL_H_PSP_TOKEN',
      stepTimeoutSeconds: 30,
    });
    expect((await call({ method: 'POST', url, cookie: dealing, payload: {} })).statusCode).toBe(403);
    const started = await call({ method: 'POST', url, cookie: admin, payload: {} });
    expect(started.statusCode, started.body).toBe(202);
    const { id } = started.json() as { id: string };
    expect(started.json()).toMatchObject({ status: 'running', steps: expect.arrayContaining([]) });
    const again = await call({ method: 'POST', url, cookie: admin, payload: {} });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'REHEARSAL_RUNNING', details: { id } });

    let seenRunning = false;
    let report: { status: string; steps: { id: string; status: string; durationMs: number | null }[] };
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await call({ url: `${url}/${id}`, cookie: dealing });
      expect(r.statusCode, r.body).toBe(200);
      report = r.json();
      if (report.status !== 'running') break;
      if (report.steps.some((s) => s.status === 'passed')) seenRunning = true;
      if (Date.now() > deadline) throw new Error(`rehearsal still running: ${r.body}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(seenRunning).toBe(true);
    expect(report.status, JSON.stringify(report, null, 2)).toBe('passed');
    expect(report.steps.map((s) => s.status)).toEqual(Array(11).fill('passed'));
    expect(report.steps.every((s) => typeof s.durationMs === 'number')).toBe(true);

    const list = await call({ url: `${url}?limit=5`, cookie: dealing });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({ total: 1, limit: 5, offset: 0, items: [{ id, status: 'passed' }] });
    expect((await call({ url: `${url}/rh-0000000000`, cookie: dealing })).statusCode).toBe(404);
    const badId = await call({ url: `${url}/not-an-id`, cookie: dealing });
    expect(badId.statusCode).toBe(400);
    expect((await call({ url, cookie: support })).statusCode).toBe(403);
    // The checklist now sees the rehearsal.
    const checks = (await call({ url: '/api/backoffice/golive/checks', cookie: dealing })).json();
    expect(checks.checks.find((c: { id: string }) => c.id === 'rehearsal:last')).toMatchObject({ status: 'pass' });
  }, 120_000);
});
