import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, type Query } from '../api.ts';

export interface ApiState<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads `path` (GET) and reloads when the path or query changes; a stale answer never overwrites a newer one. */
export function useApi<T>(path: string | null, query?: Query): ApiState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  const key = JSON.stringify(query ?? {});
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `query`; `tick` forces a reload.
  useEffect(() => {
    if (path === null) return;
    const id = ++latest.current;
    setLoading(true);
    api
      .get<T>(path, query)
      .then((value) => {
        if (id !== latest.current) return;
        setData(value);
        setError(undefined);
      })
      .catch((err: unknown) => {
        if (id === latest.current) setError(errorMessage(err));
      })
      .finally(() => {
        if (id === latest.current) setLoading(false);
      });
  }, [path, key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Runs an action (a POST, say), keeping its pending state and error for the form that started it. */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setPending(true);
      setError(undefined);
      try {
        return await action(...args);
      } catch (err) {
        setError(errorMessage(err));
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [action],
  );
  return { run, pending, error, clearError: () => setError(undefined) };
}
