import { EXAMPLE_CARD } from '@app/domain';

/** Answer examples for the OpenAPI document, from the spec. */
const card = {
  coupon_id: 1,
  crm_id: 'instance_id22222222',
  card_id: '21008fdbabd30c04548a56be6eed016c',
  ...EXAMPLE_CARD,
  dayend_time: EXAMPLE_CARD.day_end_time,
  use_with_other_offer: false,
  use_with_other_coupon: false,
  qty_condition: null,
  removed: false,
  create_time: '2021-08-18 16:25:56',
  update_time: '2021-08-19 14:09:20',
  generate_info: { generated: 10000, un_generate: 0, total: 10000 },
  receive_info: { received: 8 },
};

const generate = {
  auto_id: 10,
  crm_id: 'instance_id22222222',
  card_id: '21008fdbabd30c04548a56be6eed016c',
  quantity: 2000,
  generate_id: 'generate_id_9',
  generate_type: 1,
  is_generated: false,
  create_time: '2021-08-19 14:09:20',
  update_time: '2021-08-19 14:09:20',
};

const status = {
  ...generate,
  status: 'running',
  generated: 1200,
  rejected: 0,
  rejected_reasons: {},
  rejected_samples: [],
  progress: 0.6,
  error: null,
};

const envelope = (msg: string, data?: unknown) => ({ schema: { example: data === undefined ? { code: 0, msg } : { code: 0, msg, data } } });

export const CardExamples = {
  detail: envelope('获取卡券详情成功', card),
  create: envelope('创建卡券成功', card),
  list: envelope('获取卡券信息成功', { total: 1, results: [card] }),
  remove: envelope('删除卡券成功'),
  addStock: envelope('生成卡券任务创建成功,请等待卡券创建完成', generate),
  stockStatus: envelope('ok', status),
  importCodes: envelope('ok', {
    ...status,
    generate_type: 2,
    status: 'done',
    is_generated: true,
    quantity: 4,
    generated: 2,
    rejected: 2,
    rejected_reasons: { invalid_format: 1, already_exists: 1 },
    rejected_samples: [
      { code: 'a b', reason: 'invalid_format' },
      { code: 'A1B2C3D4', reason: 'already_exists' },
    ],
    progress: 1,
  }),
  validation: {
    schema: {
      example: {
        code: 40001,
        msg: 'page_size: page_size must not be greater than 100',
        errors: [{ field: 'page_size', message: 'page_size must not be greater than 100' }],
      },
    },
  },
};
