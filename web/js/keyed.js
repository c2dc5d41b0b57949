// Keyed nodes: one DOM node per key (a player's uid), kept across renders, so an update
// moves and refills the nodes it has (FLIP slides them) instead of rebuilding the list.

export class KeyedNodes {
  constructor(create) {
    this.create = create; // key -> a new node
    this.nodes = new Map();
  }

  get(key) {
    let node = this.nodes.get(key);
    if (!node) {
      node = this.create(key);
      this.nodes.set(key, node);
    }
    return node;
  }

  has(key) {
    return this.nodes.has(key);
  }

  // Forget the nodes of keys no longer shown (their rows left the list).
  keepOnly(keys) {
    const keep = new Set(keys);
    for (const key of this.nodes.keys()) if (!keep.has(key)) this.nodes.delete(key);
  }

  clear() {
    this.nodes.clear();
  }
}
