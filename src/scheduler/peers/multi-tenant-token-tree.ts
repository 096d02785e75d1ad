/**
 * The approximate prefix tree behind SGLang's `cache_aware` policy (peer-routers.md §1.2): one
 * radix tree over the prompts the router dispatched, shared by all workers ("tenants"), where every
 * node remembers which tenants were sent the path to it and when. SMG's HTTP flavour keys it on
 * characters and its gRPC flavour on token ids; this one takes any integer sequence (token ids, or
 * code points when only text is known).
 *
 * Properties kept by construction:
 * - a node's tenants are a subset of its parent's (an insert stamps the whole path);
 * - `tenantSize(t)` is the number of tokens on edges owned by `t` (SMG's per-tenant char/token
 *   count, which `max_tree_size` caps).
 *
 * Edges are slices of the inserted arrays, not copies: the tree keeps a reference to each prompt
 * that created a new branch.
 */

interface TreeNode {
  /** Edge label: `source[start, end)`. */
  source: readonly number[];
  start: number;
  end: number;
  parent: TreeNode | null;
  /** Children by the first token of their edge. */
  readonly children: Map<number, TreeNode>;
  /** Tenant → last access time (ms). */
  readonly tenants: Map<string, number>;
  /** Tenant that most recently inserted through this node (SMG's sticky `last_tenant`). */
  lastTenant: string | null;
}

/** Result of {@link MultiTenantTokenTree.prefixMatch}. */
export interface TreeMatch {
  /** Leading tokens of the query found in the tree along eligible tenants' paths. */
  readonly matchedTokens: number;
  /** The eligible tenant owning the deepest matched node, or null when nothing matched. */
  readonly tenant: string | null;
}

function edgeLength(node: TreeNode): number {
  return node.end - node.start;
}

export class MultiTenantTokenTree {
  private readonly root: TreeNode = {
    source: [],
    start: 0,
    end: 0,
    parent: null,
    children: new Map(),
    tenants: new Map(),
    lastTenant: null,
  };
  private readonly sizes = new Map<string, number>();

  /** Records that `tenant` was sent `tokens`, stamping every node on the path with `nowMs`. */
  insert(tokens: readonly number[], tenant: string, nowMs: number): void {
    let node = this.root;
    let i = 0;
    while (i < tokens.length) {
      let child = node.children.get(tokens[i] as number);
      if (!child) {
        const leaf: TreeNode = {
          source: tokens,
          start: i,
          end: tokens.length,
          parent: node,
          children: new Map(),
          tenants: new Map([[tenant, nowMs]]),
          lastTenant: tenant,
        };
        node.children.set(tokens[i] as number, leaf);
        this.grow(tenant, tokens.length - i);
        return;
      }
      const shared = this.sharedLength(child, tokens, i);
      if (shared < edgeLength(child)) child = this.split(node, child, shared);
      if (!child.tenants.has(tenant)) this.grow(tenant, edgeLength(child));
      child.tenants.set(tenant, nowMs);
      child.lastTenant = tenant;
      i += edgeLength(child);
      node = child;
    }
  }

  /**
   * Longest prefix of `tokens` held by tenants that pass `eligible` (SMG only considers healthy
   * workers). The walk stops at the first node with no eligible tenant; a partially matched edge
   * counts its matched tokens and its node. Among the deepest node's eligible tenants the sticky
   * last tenant wins, else the first to have inserted there.
   */
  prefixMatch(tokens: readonly number[], eligible: (tenant: string) => boolean): TreeMatch {
    let node = this.root;
    let i = 0;
    let deepest: TreeNode | null = null;
    while (i < tokens.length) {
      const child = node.children.get(tokens[i] as number);
      if (!child || !hasEligible(child, eligible)) break;
      const shared = this.sharedLength(child, tokens, i);
      deepest = child;
      i += shared;
      if (shared < edgeLength(child)) break;
      node = child;
    }
    return { matchedTokens: i, tenant: deepest ? pickTenant(deepest, eligible) : null };
  }

  /** Tokens on edges `tenant` owns. */
  tenantSize(tenant: string): number {
    return this.sizes.get(tenant) ?? 0;
  }

  tenantNames(): string[] {
    return [...this.sizes.keys()];
  }

  /**
   * SMG's eviction pass for one tenant: while it owns more than `maxTokens`, drop its least
   * recently used leaf (a node it owns where it owns no child), oldest first.
   */
  evictTenant(tenant: string, maxTokens: number): void {
    if (this.tenantSize(tenant) <= maxTokens) return;
    const heap = new LeafHeap(tenant);
    this.forEachNode((node) => {
      if (node.tenants.has(tenant) && !ownsAnyChild(node, tenant)) heap.push(node);
    });
    while (this.tenantSize(tenant) > maxTokens) {
      const leaf = heap.pop();
      if (!leaf) break;
      if (!leaf.tenants.has(tenant)) continue;
      this.removeTenant(leaf, tenant);
      const parent = leaf.parent;
      if (parent && parent !== this.root && parent.tenants.has(tenant) && !ownsAnyChild(parent, tenant)) {
        heap.push(parent);
      }
    }
  }

  /** Tree-wide node count (for tests and memory estimates). */
  nodeCount(): number {
    let count = 0;
    this.forEachNode(() => count++);
    return count;
  }

  private removeTenant(node: TreeNode, tenant: string): void {
    node.tenants.delete(tenant);
    this.grow(tenant, -edgeLength(node));
    if (node.lastTenant === tenant) node.lastTenant = node.tenants.keys().next().value ?? null;
    if (node.tenants.size === 0 && node.parent) {
      node.parent.children.delete(node.source[node.start] as number);
    }
  }

  /** Splits `child` (a child of `parent`) after `at` tokens; returns the new upper node. */
  private split(parent: TreeNode, child: TreeNode, at: number): TreeNode {
    const upper: TreeNode = {
      source: child.source,
      start: child.start,
      end: child.start + at,
      parent,
      children: new Map(),
      tenants: new Map(child.tenants),
      lastTenant: child.lastTenant,
    };
    child.start += at;
    child.parent = upper;
    upper.children.set(child.source[child.start] as number, child);
    parent.children.set(upper.source[upper.start] as number, upper);
    return upper;
  }

  private sharedLength(node: TreeNode, tokens: readonly number[], from: number): number {
    const limit = Math.min(edgeLength(node), tokens.length - from);
    let k = 0;
    while (k < limit && node.source[node.start + k] === tokens[from + k]) k++;
    return k;
  }

  private grow(tenant: string, delta: number): void {
    const size = (this.sizes.get(tenant) ?? 0) + delta;
    if (size <= 0) this.sizes.delete(tenant);
    else this.sizes.set(tenant, size);
  }

  private forEachNode(visit: (node: TreeNode) => void): void {
    const stack = [...this.root.children.values()];
    while (stack.length > 0) {
      const node = stack.pop() as TreeNode;
      visit(node);
      for (const child of node.children.values()) stack.push(child);
    }
  }
}

function hasEligible(node: TreeNode, eligible: (tenant: string) => boolean): boolean {
  for (const tenant of node.tenants.keys()) if (eligible(tenant)) return true;
  return false;
}

function pickTenant(node: TreeNode, eligible: (tenant: string) => boolean): string | null {
  if (node.lastTenant !== null && eligible(node.lastTenant)) return node.lastTenant;
  for (const tenant of node.tenants.keys()) if (eligible(tenant)) return tenant;
  return null;
}

function ownsAnyChild(node: TreeNode, tenant: string): boolean {
  for (const child of node.children.values()) if (child.tenants.has(tenant)) return true;
  return false;
}

/** Min-heap of one tenant's leaves by that tenant's last access time. */
class LeafHeap {
  private readonly items: TreeNode[] = [];

  constructor(private readonly tenant: string) {}

  push(node: TreeNode): void {
    const items = this.items;
    items.push(node);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.time(items[parent] as TreeNode) <= this.time(node)) break;
      items[i] = items[parent] as TreeNode;
      i = parent;
    }
    items[i] = node;
  }

  pop(): TreeNode | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= items.length) break;
      const r = l + 1;
      const c = r < items.length && this.time(items[r] as TreeNode) < this.time(items[l] as TreeNode) ? r : l;
      if (this.time(items[c] as TreeNode) >= this.time(last)) break;
      items[i] = items[c] as TreeNode;
      i = c;
    }
    items[i] = last;
    return top;
  }

  private time(node: TreeNode): number {
    return node.tenants.get(this.tenant) ?? Number.NEGATIVE_INFINITY;
  }
}
