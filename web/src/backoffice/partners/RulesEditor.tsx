/**
 * A commission plan version's rules as a form (symbol groups, per-lot rates by group in volume tiers, revenue share,
 * master-IB overrides) and read-only. The API validates the document and names the field at fault; the preview
 * shows exactly what is sent.
 */
import {
  ActionIcon,
  Button,
  Checkbox,
  Code,
  Group,
  NativeSelect,
  Paper,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import type { PlanRules } from './types.ts';

const OTHER = 'other';

export interface RulesDraft {
  /** `key` stays the same when a group is renamed, so its rates stay with it. */
  groups: { key: string; name: string; symbols: string }[];
  tiers: { fromLots: string; rates: Record<string, string> }[];
  revenue: { enabled: boolean; percent: string; basis: 'commission' | 'commission_and_client_loss' };
  overrides: { level: string; perLot: Record<string, string>; percentOfDirect: string }[];
}

let keys = 0;
const newKey = () => `g${++keys}`;

export function emptyDraft(): RulesDraft {
  const key = newKey();
  return {
    groups: [{ key, name: 'fx_majors', symbols: 'EURUSD, GBPUSD, USDJPY' }],
    tiers: [{ fromLots: '0', rates: { [key]: '', [OTHER]: '' } }],
    revenue: { enabled: false, percent: '', basis: 'commission' },
    overrides: [],
  };
}

export function draftFromRules(rules: PlanRules): RulesDraft {
  const groups = Object.entries(rules.symbolGroups ?? {}).map(([name, symbols]) => ({
    key: newKey(),
    name,
    symbols: symbols.join(', '),
  }));
  const keyOf = (name: string) => (name === OTHER ? OTHER : (groups.find((g) => g.name === name)?.key ?? name));
  const byKey = (rates: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(rates ?? {}).map(([name, rate]) => [keyOf(name), rate]));
  return {
    groups,
    tiers: (rules.perLot ?? []).map((t) => ({ fromLots: t.fromLots, rates: byKey(t.rates) })),
    revenue: rules.revenueShare
      ? { enabled: true, percent: rules.revenueShare.percent, basis: rules.revenueShare.basis }
      : { enabled: false, percent: '', basis: 'commission' },
    overrides: (rules.overrides ?? []).map((o) => ({
      level: String(o.level),
      perLot: byKey(o.perLot),
      percentOfDirect: o.percentOfDirect ?? '',
    })),
  };
}

/** The document the API takes. Empty cells are left out (a tier keeps the rate of the tier below). */
export function rulesFromDraft(draft: RulesDraft): PlanRules {
  const nameOf = (key: string) =>
    key === OTHER ? OTHER : (draft.groups.find((g) => g.key === key)?.name.trim() ?? '');
  const rates = (byKey: Record<string, string>) => {
    const out: Record<string, string> = {};
    for (const [key, rate] of Object.entries(byKey)) {
      const name = nameOf(key);
      if (name && rate.trim() !== '') out[name] = rate.trim();
    }
    return out;
  };
  return {
    symbolGroups: Object.fromEntries(
      draft.groups
        .filter((g) => g.name.trim())
        .map((g) => [
          g.name.trim(),
          g.symbols
            .split(/[\s,;]+/)
            .map((s) => s.trim().toUpperCase())
            .filter(Boolean),
        ]),
    ),
    perLot: draft.tiers.map((t) => ({ fromLots: t.fromLots.trim(), rates: rates(t.rates) })),
    revenueShare: draft.revenue.enabled ? { percent: draft.revenue.percent.trim(), basis: draft.revenue.basis } : null,
    overrides: draft.overrides.map((o) => {
      const perLot = rates(o.perLot);
      return {
        level: Number(o.level),
        ...(Object.keys(perLot).length ? { perLot } : {}),
        ...(o.percentOfDirect.trim() ? { percentOfDirect: o.percentOfDirect.trim() } : {}),
      };
    }),
  };
}

export function RulesEditor({
  draft,
  onChange,
  currency,
}: {
  draft: RulesDraft;
  onChange: (draft: RulesDraft) => void;
  currency: string;
}) {
  const columns = [
    ...draft.groups.map((g) => ({ key: g.key, name: g.name || '(unnamed)' })),
    { key: OTHER, name: OTHER },
  ];
  const set = (patch: Partial<RulesDraft>) => onChange({ ...draft, ...patch });

  return (
    <Stack gap="md">
      <Paper withBorder p="md">
        <Stack gap="xs">
          <Title order={4}>Symbol groups</Title>
          <Text size="xs" c="dimmed">
            Base symbols (suffixes such as .m are removed before matching). Every symbol not listed is in the group
            "other".
          </Text>
          {draft.groups.map((g, i) => (
            <Group key={g.key} align="flex-end" wrap="nowrap">
              <TextInput
                label="Group name"
                value={g.name}
                onChange={(e) => {
                  const groups = [...draft.groups];
                  groups[i] = { ...g, name: e.currentTarget.value };
                  set({ groups });
                }}
                w={180}
              />
              <TextInput
                label="Symbols"
                value={g.symbols}
                onChange={(e) => {
                  const groups = [...draft.groups];
                  groups[i] = { ...g, symbols: e.currentTarget.value };
                  set({ groups });
                }}
                style={{ flex: 1 }}
              />
              <ActionIcon
                variant="subtle"
                color="red"
                size="lg"
                aria-label={`Remove the group ${g.name}`}
                onClick={() => set({ groups: draft.groups.filter((x) => x.key !== g.key) })}
              >
                ✕
              </ActionIcon>
            </Group>
          ))}
          <Group>
            <Button
              size="xs"
              variant="light"
              onClick={() => set({ groups: [...draft.groups, { key: newKey(), name: '', symbols: '' }] })}
            >
              Add a group
            </Button>
          </Group>
        </Stack>
      </Paper>

      <Paper withBorder p="md">
        <Stack gap="xs">
          <Title order={4}>Per lot, in volume tiers</Title>
          <Text size="xs" c="dimmed">
            {currency} per lot closed. The tier is chosen by the partner's volume earlier in the same month (UTC); the
            first tier starts at 0 lots. An empty cell keeps the rate of the tier below; a group with no rate earns
            nothing per lot.
          </Text>
          {draft.tiers.length ? (
            <Table.ScrollContainer minWidth={200 + columns.length * 120}>
              <Table withTableBorder aria-label="Per-lot rates by tier">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>From lots</Table.Th>
                    {columns.map((c) => (
                      <Table.Th key={c.key}>{c.name}</Table.Th>
                    ))}
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {draft.tiers.map((t, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: tiers are ordered rows without ids
                    <Table.Tr key={i}>
                      <Table.Td>
                        <TextInput
                          aria-label={`Tier ${i + 1}: from lots`}
                          value={t.fromLots}
                          onChange={(e) => {
                            const tiers = [...draft.tiers];
                            tiers[i] = { ...t, fromLots: e.currentTarget.value };
                            set({ tiers });
                          }}
                          w={100}
                        />
                      </Table.Td>
                      {columns.map((c) => (
                        <Table.Td key={c.key}>
                          <TextInput
                            aria-label={`Tier ${i + 1}: ${currency} per lot for ${c.name}`}
                            value={t.rates[c.key] ?? ''}
                            inputMode="decimal"
                            onChange={(e) => {
                              const tiers = [...draft.tiers];
                              tiers[i] = { ...t, rates: { ...t.rates, [c.key]: e.currentTarget.value } };
                              set({ tiers });
                            }}
                            w={100}
                          />
                        </Table.Td>
                      ))}
                      <Table.Td>
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          aria-label={`Remove tier ${i + 1}`}
                          onClick={() => set({ tiers: draft.tiers.filter((_, j) => j !== i) })}
                        >
                          ✕
                        </ActionIcon>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          ) : (
            <Text size="sm" c="dimmed">
              No per-lot rates.
            </Text>
          )}
          <Group>
            <Button
              size="xs"
              variant="light"
              onClick={() => set({ tiers: [...draft.tiers, { fromLots: draft.tiers.length ? '' : '0', rates: {} }] })}
            >
              Add a tier
            </Button>
          </Group>
        </Stack>
      </Paper>

      <Paper withBorder p="md">
        <Stack gap="xs">
          <Title order={4}>Revenue share</Title>
          <Checkbox
            label="Pay a percent of the broker's revenue on each trade"
            checked={draft.revenue.enabled}
            onChange={(e) => set({ revenue: { ...draft.revenue, enabled: e.currentTarget.checked } })}
          />
          {draft.revenue.enabled ? (
            <Group align="flex-end" wrap="wrap">
              <TextInput
                label="Percent"
                inputMode="decimal"
                value={draft.revenue.percent}
                onChange={(e) => set({ revenue: { ...draft.revenue, percent: e.currentTarget.value } })}
                w={120}
              />
              <NativeSelect
                label="Revenue is"
                value={draft.revenue.basis}
                onChange={(e) =>
                  set({ revenue: { ...draft.revenue, basis: e.currentTarget.value as RulesDraft['revenue']['basis'] } })
                }
                data={[
                  { value: 'commission', label: 'The commission the client paid' },
                  { value: 'commission_and_client_loss', label: "The commission plus the client's loss" },
                ]}
              />
            </Group>
          ) : null}
        </Stack>
      </Paper>

      <Paper withBorder p="md">
        <Stack gap="xs">
          <Title order={4}>Master-IB overrides</Title>
          <Text size="xs" c="dimmed">
            What a master IB on this plan earns on trades of sub-IBs' clients: level 1 is a direct sub-IB. Per lot by
            group ({currency}) and/or a percent of the direct partner's amount.
          </Text>
          {draft.overrides.length ? (
            <Table.ScrollContainer minWidth={260 + columns.length * 120}>
              <Table withTableBorder aria-label="Overrides">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Level</Table.Th>
                    {columns.map((c) => (
                      <Table.Th key={c.key}>{c.name} /lot</Table.Th>
                    ))}
                    <Table.Th>% of direct</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {draft.overrides.map((o, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: override rows have no ids
                    <Table.Tr key={i}>
                      <Table.Td>
                        <TextInput
                          aria-label={`Override ${i + 1}: level`}
                          inputMode="numeric"
                          value={o.level}
                          onChange={(e) => {
                            const overrides = [...draft.overrides];
                            overrides[i] = { ...o, level: e.currentTarget.value };
                            set({ overrides });
                          }}
                          w={70}
                        />
                      </Table.Td>
                      {columns.map((c) => (
                        <Table.Td key={c.key}>
                          <TextInput
                            aria-label={`Override level ${o.level}: ${currency} per lot for ${c.name}`}
                            inputMode="decimal"
                            value={o.perLot[c.key] ?? ''}
                            onChange={(e) => {
                              const overrides = [...draft.overrides];
                              overrides[i] = { ...o, perLot: { ...o.perLot, [c.key]: e.currentTarget.value } };
                              set({ overrides });
                            }}
                            w={100}
                          />
                        </Table.Td>
                      ))}
                      <Table.Td>
                        <TextInput
                          aria-label={`Override level ${o.level}: percent of the direct partner's amount`}
                          inputMode="decimal"
                          value={o.percentOfDirect}
                          onChange={(e) => {
                            const overrides = [...draft.overrides];
                            overrides[i] = { ...o, percentOfDirect: e.currentTarget.value };
                            set({ overrides });
                          }}
                          w={90}
                        />
                      </Table.Td>
                      <Table.Td>
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          aria-label={`Remove override ${i + 1}`}
                          onClick={() => set({ overrides: draft.overrides.filter((_, j) => j !== i) })}
                        >
                          ✕
                        </ActionIcon>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          ) : null}
          <Group>
            <Button
              size="xs"
              variant="light"
              onClick={() =>
                set({
                  overrides: [
                    ...draft.overrides,
                    { level: String(draft.overrides.length + 1), perLot: {}, percentOfDirect: '' },
                  ],
                })
              }
            >
              Add a level
            </Button>
          </Group>
        </Stack>
      </Paper>

      <details>
        <summary>
          <Text span size="sm">
            The rules as sent
          </Text>
        </summary>
        <Code block mt="xs" data-testid="rules-preview">
          {JSON.stringify(rulesFromDraft(draft), null, 2)}
        </Code>
      </details>
    </Stack>
  );
}

/** A version's rules, read-only. */
export function RulesView({ rules, currency }: { rules: PlanRules; currency: string }) {
  const groups = Object.entries(rules.symbolGroups ?? {});
  const names = [...groups.map(([g]) => g), OTHER];
  const tiers = rules.perLot ?? [];
  const overrides = rules.overrides ?? [];
  return (
    <Stack gap="sm">
      <div>
        <Text size="sm" fw={600}>
          Symbol groups
        </Text>
        {groups.length === 0 ? (
          <Text size="sm" c="dimmed">
            None: every symbol is "other".
          </Text>
        ) : (
          groups.map(([g, symbols]) => (
            <Text size="sm" key={g}>
              <Code>{g}</Code>: {symbols.join(', ') || '—'}
            </Text>
          ))
        )}
      </div>
      <div>
        <Text size="sm" fw={600}>
          Per lot ({currency})
        </Text>
        {tiers.length === 0 ? (
          <Text size="sm" c="dimmed">
            No per-lot rates.
          </Text>
        ) : (
          <Table.ScrollContainer minWidth={160 + names.length * 90}>
            <Table withTableBorder aria-label="Per-lot rates">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>From lots</Table.Th>
                  {names.map((n) => (
                    <Table.Th key={n}>{n}</Table.Th>
                  ))}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {tiers.map((t, i) => (
                  <Table.Tr key={t.fromLots}>
                    <Table.Td>{t.fromLots}</Table.Td>
                    {names.map((n) => (
                      <Table.Td key={n}>
                        {t.rates[n] ??
                          (i === 0 ? (
                            <span title="No rate: earns nothing per lot">—</span>
                          ) : (
                            <span title="As the tier below">↑</span>
                          ))}
                      </Table.Td>
                    ))}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </div>
      <Text size="sm">
        <b>Revenue share:</b>{' '}
        {rules.revenueShare
          ? `${rules.revenueShare.percent}% of ${rules.revenueShare.basis === 'commission' ? 'the commission charged' : "the commission charged plus the client's loss"}`
          : 'none'}
      </Text>
      <div>
        <Text size="sm" fw={600}>
          Master-IB overrides
        </Text>
        {overrides.length === 0 ? (
          <Text size="sm" c="dimmed">
            None.
          </Text>
        ) : (
          overrides.map((o) => (
            <Text size="sm" key={o.level}>
              Level {o.level}:{' '}
              {[
                o.perLot
                  ? Object.entries(o.perLot)
                      .map(([g, r]) => `${r} ${currency}/lot on ${g}`)
                      .join(', ')
                  : null,
                o.percentOfDirect ? `${o.percentOfDirect}% of the direct partner's amount` : null,
              ]
                .filter(Boolean)
                .join(' + ')}
            </Text>
          ))
        )}
      </div>
    </Stack>
  );
}
