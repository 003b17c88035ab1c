/**
 * Test cards: what each number does on the hosted page. Any other number that passes the Luhn check behaves like
 * 4242 4242 4242 4242 (nothing is ever charged: only the last four digits are kept).
 */
import type { Outcome } from './model.ts';

export interface CardBehaviour {
  /** What happens at once. */
  immediate: 'succeeded' | 'failed' | 'pending';
  /** For pending cards: how the payment resolves after the pending delay. */
  eventual?: Outcome;
  failureReason?: string;
  description: string;
}

export const TEST_CARDS: Readonly<Record<string, CardBehaviour>> = {
  '4242424242424242': { immediate: 'succeeded', description: 'succeeds' },
  '4000000000000002': {
    immediate: 'failed',
    failureReason: 'card_declined',
    description: 'declined (failed, reason card_declined)',
  },
  '4000000000003220': { immediate: 'pending', eventual: 'success', description: 'pending, then succeeds' },
  '4000000000009995': {
    immediate: 'pending',
    eventual: 'failure',
    failureReason: 'insufficient_funds',
    description: 'pending, then fails (reason insufficient_funds)',
  },
};

const OTHER_CARD: CardBehaviour = { immediate: 'succeeded', description: 'any other Luhn-valid number: succeeds' };

/** A payout to a destination whose last four digits are these fails (reason destination_declined). */
export const FAILING_PAYOUT_LAST4 = '0002';

export function cardBehaviour(digits: string): CardBehaviour {
  return TEST_CARDS[digits] ?? OTHER_CARD;
}

/** "4242 4242 4242 4242" for banners and docs. */
export function formatCardNumber(digits: string): string {
  return digits.replace(/(\d{4})(?=\d)/g, '$1 ');
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export function cardBrand(digits: string): string {
  if (digits.startsWith('4')) return 'visa';
  if (/^(5[1-5]|2[2-7])/.test(digits)) return 'mastercard';
  if (/^3[47]/.test(digits)) return 'amex';
  return 'unknown';
}
