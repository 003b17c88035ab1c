/** The signed-in staff member, their permissions (as the API grants them) and sign-out, for every back-office screen. */
import { createContext, useContext } from 'react';

export interface StaffMe {
  staff: { id: string; email: string; name: string; roles: string[]; totpEnabled: boolean };
  twoFactorPassed: boolean;
  permissions: string[];
}

export interface StaffAuth {
  me: StaffMe;
  can(permission: string): boolean;
  signOut(): Promise<void>;
}

export const StaffAuthContext = createContext<StaffAuth | null>(null);

export function useStaff(): StaffAuth {
  const auth = useContext(StaffAuthContext);
  if (!auth) throw new Error('useStaff outside the back office');
  return auth;
}
