/** The frame of each area: a header with the area's name and the signed-in user, a navigation that folds on a phone. */
import { AppShell, Burger, Button, Group, NavLink, ScrollArea, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router';
import { ErrorBoundary } from './components.tsx';

export interface NavItem {
  to: string;
  label: string;
  /** Matches sub-paths too (e.g. /backoffice/clients/123 lights up Clients). */
  prefix?: boolean;
}

export function Shell({
  area,
  user,
  nav,
  onSignOut,
  children,
}: {
  area: string;
  user?: string;
  nav: NavItem[];
  onSignOut?: () => void;
  children: ReactNode;
}) {
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Text fw={700}>Brokerdesk</Text>
            <Text c="dimmed" visibleFrom="xs">
              {area}
            </Text>
          </Group>
          <Group gap="sm" wrap="nowrap">
            {user ? (
              <Text size="sm" visibleFrom="sm" data-testid="signed-in-user">
                {user}
              </Text>
            ) : null}
            {onSignOut ? (
              <Button size="xs" variant="default" onClick={onSignOut}>
                Sign out
              </Button>
            ) : null}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={`${area} navigation`}>
        <ScrollArea>
          {nav.map((item) => (
            <NavLink
              key={item.to}
              component={Link}
              to={item.to}
              label={item.label}
              onClick={close}
              active={item.prefix ? location.pathname.startsWith(item.to) : location.pathname === item.to}
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <ErrorBoundary>{children}</ErrorBoundary>
      </AppShell.Main>
    </AppShell>
  );
}
