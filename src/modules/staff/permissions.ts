/**
 * Who may do what in the back office: one permission per action, granted to roles. Every back-office route names
 * the permission it needs; a test walks every route for every role against this table.
 */
import type { StaffRole } from '../../db/schema.ts';

export const permissions = {
  'staff.read': ['admin'],
  'staff.manage': ['admin'],
  'servers.read': ['admin', 'dealing'],
  'servers.manage': ['admin'],
  'operations.read': ['admin', 'compliance', 'finance', 'support', 'dealing'],
  'operations.retry': ['admin', 'finance', 'dealing'],
  'operations.cancel': ['admin', 'finance', 'dealing'],
  'alerts.read': ['admin', 'compliance', 'finance', 'support', 'dealing'],
  'alerts.manage': ['admin', 'finance', 'dealing'],
  'audit.read': ['admin', 'compliance'],
  'clients.read': ['admin', 'compliance', 'finance', 'support', 'dealing'],
  'clients.manage': ['admin', 'compliance', 'support'],
  'kyc.read': ['admin', 'compliance', 'support'],
  'kyc.review': ['admin', 'compliance'],
  'products.read': ['admin', 'dealing', 'support', 'finance'],
  'products.manage': ['admin'],
  'accounts.read': ['admin', 'compliance', 'finance', 'support', 'dealing'],
  'accounts.manage': ['admin', 'dealing'],
  'external_changes.read': ['admin', 'compliance', 'finance', 'support', 'dealing'],
  'external_changes.review': ['admin', 'finance', 'dealing'],
  'funding.read': ['admin', 'compliance', 'finance', 'support', 'dealing'],
  'funding.approve': ['admin', 'finance'],
  'funding.request': ['admin', 'finance'],
  'funding.rates': ['admin', 'finance'],
  'partners.read': ['admin', 'partner_manager', 'finance', 'support'],
  'partners.manage': ['admin', 'partner_manager'],
  'commissions.read': ['admin', 'partner_manager', 'finance'],
  'commissions.manage': ['admin', 'partner_manager'],
  'commissions.payout.approve': ['admin', 'finance'],
  'recon.read': ['admin', 'finance', 'compliance'],
  'recon.resolve': ['admin', 'finance'],
  'recon.writeoff.approve': ['admin', 'finance'],
} as const satisfies Record<string, readonly StaffRole[]>;

export type Permission = keyof typeof permissions;

/** Roles that move money or change configuration: their staff must use two-factor authentication. */
export const rolesRequiringTwoFactor: readonly StaffRole[] = ['admin', 'finance', 'dealing'];

export function can(roles: readonly string[], permission: Permission): boolean {
  const allowed: readonly string[] = permissions[permission];
  return roles.some((r) => allowed.includes(r));
}

export function requiresTwoFactor(roles: readonly string[]): boolean {
  return roles.some((r) => (rolesRequiringTwoFactor as readonly string[]).includes(r));
}
