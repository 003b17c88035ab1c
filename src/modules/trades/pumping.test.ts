import { describe, expect, it } from 'vitest';
import { Mt4Feed } from './pumping.ts';

const at = (iso: string) => new Date(iso);
const OVERLAP = 10 * 60_000;

describe('MT4 pumping feed bookkeeping', () => {
  it('owes a catch-up after every subscription, reaching back before what the gap may have swallowed', () => {
    const feed = new Mt4Feed('mt4-live', OVERLAP);
    expect(feed.onStreamEvent({ type: 'subscribed', serverTime: at('2026-01-05T09:00:00Z') })).toBe(true);
    // First stream: the ordinary rule (cursor minus overlap) decides.
    expect(feed.state).toMatchObject({ catchUpOwed: true, catchUpFrom: null, live: false, generation: 1 });
    feed.caughtUp(1);
    expect(feed.state).toMatchObject({ live: true, catchUpOwed: false });

    feed.onStreamEvent({
      type: 'balance',
      change: 'added',
      seq: 1,
      time: at('2026-01-05T09:30:00Z'),
      record: {} as never,
    });
    expect(feed.onStreamEvent({ type: 'dropped', reason: 'x', error: null, retryInMs: 250 })).toBe(false);
    expect(feed.state.live).toBe(false);
    feed.onStreamEvent({
      type: 'resubscribed',
      serverTime: at('2026-01-05T11:00:00Z'),
      lastEventAt: at('2026-01-05T09:30:00Z'),
      drops: 1,
    });
    // The later of the last event received and the start of the dropped stream, minus the overlap.
    expect(feed.state.catchUpFrom).toEqual(at('2026-01-05T09:20:00Z'));
    expect(feed.state).toMatchObject({ generation: 2, drops: 1, live: false });
  });

  it('counts a catch-up only for the stream it was started for', () => {
    const feed = new Mt4Feed('mt4-live', OVERLAP);
    feed.onStreamEvent({ type: 'subscribed', serverTime: at('2026-01-05T09:00:00Z') });
    const generation = feed.state.generation;
    feed.onStreamEvent({ type: 'dropped', reason: 'x', error: null, retryInMs: 250 });
    feed.onStreamEvent({ type: 'resubscribed', serverTime: at('2026-01-05T09:05:00Z'), lastEventAt: null, drops: 1 });
    feed.caughtUp(generation);
    expect(feed.state).toMatchObject({ live: false, catchUpOwed: true });
    // No event was received: back to the start of the stream that dropped.
    expect(feed.state.catchUpFrom).toEqual(at('2026-01-05T08:50:00Z'));
    feed.caughtUp(feed.state.generation);
    expect(feed.state.live).toBe(true);
  });
});
