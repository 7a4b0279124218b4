import { Command, CommanderError } from 'commander';
import { describeError } from '../core/index.js';
import { addLakeCommands } from './lake-commands.js';
import { addDemoCommand } from './demo-command.js';
import { addExperimentCommands } from './experiments-commands.js';
import { addFeatureCommands } from './features-commands.js';
import { addServerCommands } from './server-commands.js';
import { addLmCommands } from './lm-commands.js';
import { addViralScoreCommands } from './viralscore-commands.js';
import { addPolicyCommands } from './policy-commands.js';
import { addGenerateCommands } from './generate-commands.js';
import { addFeedbackCommands } from './feedback-commands.js';

/** Builds the `tkllm` command tree; each subcommand parses, calls the library, and prints. */
export function buildProgram(): Command {
  const program = new Command('tkllm')
    .description('TKLLM: learn what makes short-video posts travel, score drafts, and generate scripts.')
    .option('--data-dir <dir>', 'directory holding the lake and the models', './tkllm-data')
    .showHelpAfterError()
    .exitOverride();
  addLakeCommands(program);
  addDemoCommand(program);
  addExperimentCommands(program);
  addFeatureCommands(program);
  addServerCommands(program);
  addLmCommands(program);
  addViralScoreCommands(program);
  addPolicyCommands(program);
  addGenerateCommands(program);
  addFeedbackCommands(program);
  return program;
}

/** Runs the CLI with `argv` (without `node` and the script) and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    console.error(`tkllm: ${describeError(error)}`);
    return 1;
  }
}
