/**
 * Routing: a product (account type) maps to exactly one server and one group. Before anything is sent, the route is
 * checked: a live product never goes to a demo server or the reverse, and the group must exist on that server (by
 * the server's own group list) with the product's currency. A wrong mapping fails loudly with the reason; it never
 * lands somewhere else.
 */
import { RoutingError } from './errors.ts';
import type { GuardedPlatform } from './guarded.ts';
import type { ServerRegistry, ServerView } from './registry.ts';
import type { Environment, GroupInfo } from './types.ts';

export interface ProductRoute {
  /** The product's name, for messages. */
  product: string;
  environment: Environment;
  serverCode: string;
  group: string;
  /** When given, the group's currency must match. */
  currency?: string;
}

export interface ResolvedRoute {
  server: ServerView;
  platform: GuardedPlatform;
  group: GroupInfo;
}

export async function resolveRoute(
  registry: ServerRegistry,
  route: ProductRoute,
  options: { freshGroups?: boolean } = {},
): Promise<ResolvedRoute> {
  const server = await registry.get(route.serverCode);
  if (!server.enabled) throw new RoutingError('server_disabled', `trading server "${server.code}" is disabled`);
  if (server.environment !== route.environment) {
    throw new RoutingError(
      'environment_mismatch',
      `product "${route.product}" is ${route.environment} but server "${server.code}" is ${server.environment}: map it to a ${route.environment} server`,
    );
  }
  let groups = await registry.groups(server.code, { fresh: options.freshGroups });
  let group = groups.find((g) => g.name === route.group);
  if (!group && !options.freshGroups) {
    // The cache may predate a group the dealer just created: ask the server once more before refusing.
    groups = await registry.groups(server.code, { fresh: true });
    group = groups.find((g) => g.name === route.group);
  }
  if (!group) {
    throw new RoutingError(
      'group_not_on_server',
      `product "${route.product}" is mapped to group "${route.group}", which server "${server.code}" does not have (it has: ${groups
        .map((g) => g.name)
        .slice(0, 20)
        .join(', ')})`,
    );
  }
  if (route.currency && group.currency !== route.currency) {
    throw new RoutingError(
      'currency_mismatch',
      `product "${route.product}" is in ${route.currency} but group "${group.name}" on "${server.code}" is in ${group.currency}`,
    );
  }
  return { server, platform: await registry.platform(server.code), group };
}
