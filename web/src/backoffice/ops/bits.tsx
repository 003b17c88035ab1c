/** What only the operations screens need (the pieces every back-office screen shares are in ../common.tsx). */
import { useEffect } from 'react';

/** Calls `reload` every `ms` while `active` (a status that still changes by itself). */
export function useRefreshWhile(active: boolean, reload: () => void, ms = 2000) {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, ms);
    return () => clearInterval(timer);
  }, [active, reload, ms]);
}
