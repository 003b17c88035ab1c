/** Date-times typed in the back office are UTC (as commission periods and plan versions are). */

/** "2026-05-01T00:00" (a datetime-local value, read as UTC) → ISO, or an error text. */
export function utcInput(value: string): { iso: string } | { error: string } {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value)) return { error: 'Enter a date and time' };
  const date = new Date(`${value}:00Z`);
  if (Number.isNaN(date.getTime())) return { error: 'Enter a valid date and time' };
  return { iso: date.toISOString() };
}

/** A date as the value of a datetime-local input, in UTC. */
export function toUtcInput(date: Date): string {
  return date.toISOString().slice(0, 16);
}

export function utcText(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}
