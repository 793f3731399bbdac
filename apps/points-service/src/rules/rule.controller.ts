import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ListRulesMsg, PointsPattern, RuleIdMsg, RuleMsg, UpdateRuleMsg } from '@app/domain';
import { RuleService } from './rule.service';

@Controller()
export class RuleController {
  constructor(private readonly rules: RuleService) {}

  @MessagePattern(PointsPattern.RULE_CREATE)
  create(@Payload() m: RuleMsg) {
    return this.rules.create(m);
  }

  @MessagePattern(PointsPattern.RULE_LIST)
  list(@Payload() m: ListRulesMsg) {
    return this.rules.list(m);
  }

  @MessagePattern(PointsPattern.RULE_UPDATE)
  update(@Payload() m: UpdateRuleMsg) {
    return this.rules.update(m);
  }

  @MessagePattern(PointsPattern.RULE_DISABLE)
  disable(@Payload() m: RuleIdMsg) {
    return this.rules.disable(m);
  }
}
