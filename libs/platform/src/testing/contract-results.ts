import { Violation } from '@app/domain';
import { ContractResult } from '../contract.pipe';

/** For specs: the violations of a result expected to be refused. */
export function violations<T>(result: ContractResult<T>): Violation[] {
  if (result.ok) throw new Error(`expected violations, got ${JSON.stringify(result.value)}`);
  return result.violations;
}

/** For specs: the value of a result expected to be valid. */
export function value<T>(result: ContractResult<T>): T {
  if (!result.ok) throw new Error(`expected a valid input, got ${JSON.stringify(result.violations)}`);
  return result.value;
}
