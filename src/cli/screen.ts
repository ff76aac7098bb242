/** A frame for a terminal of `width` columns and `height` rows, one string a row. */
export type Frame = (width: number, height: number) => readonly string[];

/** The terminal a Screen draws on: stdout in the CLI. */
export type Terminal = NodeJS.EventEmitter & {
  write(text: string): unknown;
  readonly columns?: number;
  readonly rows?: number;
};

/** The alternate screen (what was on the terminal comes back at the end), cursor hidden. */
const enter = '\x1b[?1049h\x1b[?25l';
const leave = '\x1b[?25h\x1b[?1049l';
/** Cursor to the top left: each frame is drawn over the last, with no clearing between to flicker. */
const home = '\x1b[H';
/** Erase to the end of the line, and from the cursor to the end of the screen: what the last frame left. */
const eraseLine = '\x1b[K';
const eraseBelow = '\x1b[J';

/**
 * The whole terminal as one view redrawn in place, as `top` does. The frame is a
 * function of the terminal's size, so that a resize redraws it at once to fit.
 */
export class Screen implements Disposable {
  readonly #out: Terminal;
  #frame: Frame | undefined;
  #open = true;

  constructor(out: Terminal) {
    this.#out = out;
    out.write(enter);
    out.on('resize', this.#draw);
  }

  draw(frame: Frame): void {
    this.#frame = frame;
    this.#draw();
  }

  /** Gives the terminal back as it was; safe to call twice. */
  [Symbol.dispose](): void {
    if (!this.#open) return;
    this.#open = false;
    this.#out.off('resize', this.#draw);
    this.#out.write(leave);
  }

  readonly #draw = (): void => {
    if (!this.#frame || !this.#open) return;
    // 0 or undefined when the terminal does not say.
    const width = this.#out.columns || 80;
    const height = this.#out.rows || 24;
    // One column short of the edge: a line that fills it would leave the cursor waiting
    // to wrap, where the erase after it would take the last character.
    const rows = this.#frame(width, height)
      .slice(0, height)
      .map((row) => row.slice(0, width - 1) + eraseLine);
    this.#out.write(home + rows.join('\n') + eraseBelow);
  };
}
