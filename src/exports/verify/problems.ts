// The verifier's list of problems: every failure is counted, the first few hundred are kept
// word for word, so a thoroughly broken bag cannot make the report grow without bound.

export class Problems {
  readonly kept: string[] = [];
  total = 0;

  constructor(private readonly max = 500) {}

  add(message: string): void {
    this.total++;
    if (this.kept.length < this.max) this.kept.push(message);
  }

  get ok(): boolean {
    return this.total === 0;
  }

  /** The kept problems, plus one line saying how many more there were. */
  list(): string[] {
    const more = this.total - this.kept.length;
    return more > 0 ? [...this.kept, `… and ${more} more problems`] : [...this.kept];
  }
}
