import { Inject, Injectable } from '@nestjs/common';
import { Envelope, ErrorCode, fail, ListRulesMsg, ok, Page, RuleIdMsg, RuleMsg, RuleView, UpdateRuleMsg } from '@app/domain';
import { AppConfig, Clock, CONFIG } from '@app/platform';
import { RuleRepository } from './rule.repository';

/** Earning rules of a tenant: create, list, update (every field anew), disable. */
@Injectable()
export class RuleService {
  constructor(
    private readonly rules: RuleRepository,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async create(m: RuleMsg): Promise<Envelope<RuleView>> {
    const { crm_id, ...rule } = m;
    return ok(await this.rules.insert(crm_id, rule, this.cfg.appTz, this.clock.now()), '创建规则成功');
  }

  async list(m: ListRulesMsg): Promise<Envelope<Page<RuleView>>> {
    return ok(await this.rules.list(m, this.cfg.appTz), 'OK');
  }

  async update(m: UpdateRuleMsg): Promise<Envelope<RuleView>> {
    const { crm_id, rule_id, ...rule } = m;
    if (!(await this.rules.update(crm_id, rule_id, rule, this.cfg.appTz, this.clock.now()))) return notFound(rule_id);
    return ok((await this.rules.find(crm_id, rule_id, this.cfg.appTz))!, '更新规则成功');
  }

  /** Disabling again answers the same. */
  async disable(m: RuleIdMsg): Promise<Envelope<RuleView>> {
    if (!(await this.rules.disable(m.crm_id, m.rule_id, this.clock.now()))) return notFound(m.rule_id);
    return ok((await this.rules.find(m.crm_id, m.rule_id, this.cfg.appTz))!, '停用规则成功');
  }
}

const notFound = (ruleId: number) => fail(ErrorCode.RULE_NOT_FOUND, `rule ${ruleId} not found`);
