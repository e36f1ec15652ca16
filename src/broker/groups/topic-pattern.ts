/**
 * Topic patterns (`topicPattern` of a subscription) in RE2 syntax, matched by re2js, a
 * linear-time engine: a hostile pattern such as `(a+)+$` or `.*` fifty times cannot
 * stall the event loop the way a backtracking JavaScript RegExp does (Kafka's KIP-848
 * moved to RE2/J for the same reason). What RE2 cannot express (backreferences,
 * lookaround) is refused, and so is a pattern longer than limits.topicPatternLengthMax.
 * A pattern matches a topic when it matches the whole name.
 *
 * TopicPatternMatcher keeps, per pattern, the compiled program and whether each topic
 * name matched, so a name is matched once, when it first appears, not on every sweep.
 */
import { RE2JS } from 're2js';
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';

/** The compiled pattern; INVALID_REQUEST when it is too long or not RE2 syntax. */
export function compileTopicPattern(pattern: string): RE2JS {
  if (pattern.length > limits.topicPatternLengthMax) {
    throw new RunnelError('INVALID_REQUEST', `topicPattern has ${pattern.length} characters; at most ${limits.topicPatternLengthMax} are allowed`);
  }
  try {
    return RE2JS.compile(pattern);
  } catch (error) {
    throw new RunnelError('INVALID_REQUEST', `topicPattern is not a regular expression RE2 accepts (no backreferences or lookaround): ${(error as Error).message}`);
  }
}

/** Why a pattern is refused, or undefined when it is accepted. */
export function topicPatternProblem(pattern: string): string | undefined {
  try {
    compileTopicPattern(pattern);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

interface CachedPattern {
  /** Undefined: the pattern is refused (a member saved by an older version) and matches nothing. */
  program: RE2JS | undefined;
  /** Topic name -> whether the whole name matches. */
  matches: Map<string, boolean>;
}

export class TopicPatternMatcher {
  private readonly patterns = new Map<string, CachedPattern>();

  /** Whether the pattern matches the whole topic name; each name is matched once. */
  matches(pattern: string, topic: string): boolean {
    const cached = this.cached(pattern);
    let isMatch = cached.matches.get(topic);
    if (isMatch === undefined) {
      isMatch = cached.program?.testExact(topic) ?? false;
      cached.matches.set(topic, isMatch);
    }
    return isMatch;
  }

  /**
   * Forgets patterns no member uses any more and names that are no longer topics
   * (a topic created again under the name is matched again: cheap, and always right).
   */
  retain(patterns: ReadonlySet<string>, topics: ReadonlyMap<string, unknown>): void {
    for (const [pattern, cached] of this.patterns) {
      if (!patterns.has(pattern)) {
        this.patterns.delete(pattern);
        continue;
      }
      if (cached.matches.size <= topics.size) continue;
      for (const topic of [...cached.matches.keys()]) if (!topics.has(topic)) cached.matches.delete(topic);
    }
  }

  private cached(pattern: string): CachedPattern {
    let cached = this.patterns.get(pattern);
    if (cached === undefined) {
      let program: RE2JS | undefined;
      try {
        program = compileTopicPattern(pattern);
      } catch {
        program = undefined;
      }
      cached = { program, matches: new Map() };
      this.patterns.set(pattern, cached);
    }
    return cached;
  }
}
