/**
 * W6, multi-turn chat (peer-routers.md §11 W6; production-stack `multi-round-qa.py`): every user
 * shares one system prompt, has a private history, and sends `rounds` questions in sequence. Each
 * turn's prompt is the previous prompt + the previous answer + the new question, so the prefix a
 * pod cached for turn k (prompt and generated answer) is exactly the start of turn k+1.
 *
 * Closed loop: a user's next turn is issued `users / qps` seconds after the previous answer
 * finished (multi-round-qa paces each user at that period); users start `1 / qps` apart.
 *
 * Defaults: the published example's shape (system 1,000, user history 2,000, answer 100, 5 rounds)
 * with 128 users instead of 10 (its sweep goes to 320) and a 100-token question per turn (the
 * script's question length is not pinned by the source); qps = 60% of the fleet's cache-blind
 * capacity for the mean prompt, so reuse decides the latency rather than raw overload.
 */
import { layoutStages } from './arrivals.ts';
import { fleetCapacity } from './capacity.ts';
import { engineConfigForFleet, resolveFleet } from './fleet-shape.ts';
import { limitRequests } from './request-limit.ts';
import { randomTokens, streamFor } from './token-source.ts';
import type { WorkloadDefinition, WorkloadRequest } from './types.ts';

export const MULTI_TURN_SHAPE = {
  users: 128,
  rounds: 5,
  systemPromptLen: 1000,
  userHistoryLen: 2000,
  questionLen: 100,
  answerLen: 100,
};

const SUMMARY = 'W6: multi-turn chat, 128 users × 5 rounds, prompts grow by answer + question';

export const multiTurn: WorkloadDefinition = {
  name: 'multi-turn',
  summary: SUMMARY,
  build(options) {
    const shape = MULTI_TURN_SHAPE;
    const seed = options.seed;
    const fleet = resolveFleet(options, { pods: 8, profile: 'llama-3.1-8b-h100' });
    const config = engineConfigForFleet(fleet);
    const turnGrowth = shape.answerLen + shape.questionLen;
    const firstPrompt = shape.systemPromptLen + shape.userHistoryLen + shape.questionLen;
    const meanPrompt = firstPrompt + (turnGrowth * (shape.rounds - 1)) / 2;
    const capacity = fleetCapacity(config, fleet.pods, {
      promptTokens: meanPrompt,
      sharedTokens: meanPrompt - shape.questionLen,
      outputTokens: shape.answerLen,
      residentSharedTokensPerPod: 0,
    });
    const qps = options.rate ?? Math.round(capacity.coldRps * 0.6 * 10) / 10;
    const think = shape.users / qps;

    const system = randomTokens(streamFor(seed, 'system'), shape.systemPromptLen);
    const part = (label: string, user: number, round: number, length: number): number[] =>
      randomTokens(streamFor(seed, label, user, round), length);
    const answers = new Map<string, number[]>();
    const answerOf = (user: number, round: number): number[] => {
      const key = `${user}/${round}`;
      let answer = answers.get(key);
      if (!answer) {
        answer = part('answer', user, round, shape.answerLen);
        answers.set(key, answer);
      }
      return answer;
    };
    const promptOf = (user: number, round: number): number[] => {
      const pieces: number[][] = [system, part('history', user, 0, shape.userHistoryLen)];
      for (let r = 0; r < round; r++)
        pieces.push(part('question', user, r, shape.questionLen), answerOf(user, r));
      pieces.push(part('question', user, round, shape.questionLen));
      return pieces.flat();
    };

    const requests: WorkloadRequest[] = [];
    for (let round = 0; round < shape.rounds; round++) {
      for (let user = 0; user < shape.users; user++) {
        requests.push({
          id: `u${user}t${round}`,
          arrivalS: round === 0 ? user / qps : think,
          ...(round > 0 ? { after: `u${user}t${round - 1}` } : {}),
          stage: 0,
          prompt: () => promptOf(user, round),
          promptLength: firstPrompt + round * turnGrowth,
          outputTokenIds: answerOf(user, round),
        });
      }
    }
    const stages = layoutStages([{ rate: qps, durationS: (shape.users * shape.rounds) / qps }]);
    return {
      name: 'multi-turn',
      description: SUMMARY,
      reference: 'peer-routers.md §11 W6 (production-stack multi-round-qa)',
      parameters: {
        'num-users': shape.users,
        'num-rounds': shape.rounds,
        qps,
        'shared-system-prompt': shape.systemPromptLen,
        'user-history-prompt': shape.userHistoryLen,
        'question-len': shape.questionLen,
        'answer-len': shape.answerLen,
        'think-time-s': Number(think.toFixed(2)),
      },
      stages,
      requests: limitRequests(requests, options.maxRequests),
      fleetEvents: [],
      fleet,
      notes: [
        `Cache-blind capacity for the mean prompt (${meanPrompt} tokens): ${capacity.coldRps.toFixed(1)} req/s; qps = 60% of it unless --rate is given.`,
      ],
    };
  },
};
