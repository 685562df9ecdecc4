/** A long-running part of a process (API server, workers, sequencer). `stop` stops taking
 * new work and finishes what is in flight, giving up at `deadline` (epoch ms). */
export interface Component {
  name: string;
  stop(deadline: number): Promise<void>;
}
