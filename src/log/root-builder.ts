// Streaming RFC 6962 root computation: leaves pushed in order, O(log n) memory. Used to
// recompute the whole tree independently of the stored hashes.
import { EMPTY_TREE_HASH, hashChildren, hashLeaf } from './merkle.ts';

export class RootBuilder {
  /** Roots of complete subtrees, largest first; sizes are decreasing powers of two. */
  private readonly stack: { size: number; hash: Buffer }[] = [];
  size = 0;

  push(leafData: Uint8Array): void {
    let node = { size: 1, hash: hashLeaf(leafData) };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.size === node.size) {
      const left = this.stack.pop()!;
      node = { size: left.size * 2, hash: hashChildren(left.hash, node.hash) };
    }
    this.stack.push(node);
    this.size++;
  }

  /** MTH of the leaves pushed so far (RFC 6962 section 2.1): fold the right edge. */
  root(): Buffer {
    if (this.stack.length === 0) return EMPTY_TREE_HASH;
    let h = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) h = hashChildren(this.stack[i]!.hash, h);
    return h;
  }
}
