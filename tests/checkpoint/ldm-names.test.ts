// The LDM → diffusers name mappings on layouts other than the fixture's (they must follow the
// config, not SD 1.5's numbers), and spot checks at SD 1.5's size.

import t from 'tap';
import { inferLdmUNetLayout, ldmUNetKeyToDiffusers } from '../../unet/ldm-names.js';
import { inferLdmVaeLayout, ldmVaeKeyToDiffusers } from '../../vae/ldm-names.js';
import { clipTextMapping } from '../../clip/ldm-names.js';

const RESNET: readonly [string, string][] = [
  ['in_layers.0', 'norm1'],
  ['in_layers.2', 'conv1'],
  ['emb_layers.1', 'time_emb_proj'],
  ['out_layers.0', 'norm2'],
  ['out_layers.3', 'conv2'],
];
const ATTENTION = ['norm', 'proj_in', 'transformer_blocks.0.attn1.to_q', 'transformer_blocks.0.ff.net.2', 'proj_out'];

/** [LDM key, diffusers name] pairs of a U-Net with `blocks` levels, attention where attn[i]. */
function unetPairs(blocks: number, lpb: number, attn: readonly boolean[]): [string, string][] {
  const pairs: [string, string][] = [
    ['time_embed.0.weight', 'time_embedding.linear_1.weight'],
    ['time_embed.2.bias', 'time_embedding.linear_2.bias'],
    ['input_blocks.0.0.weight', 'conv_in.weight'],
    ['out.0.weight', 'conv_norm_out.weight'],
    ['out.2.bias', 'conv_out.bias'],
  ];
  const resnet = (ldm: string, diff: string, shortcut: boolean): void => {
    for (const [a, b] of RESNET) pairs.push([`${ldm}.${a}.weight`, `${diff}.${b}.weight`]);
    if (shortcut) pairs.push([`${ldm}.skip_connection.bias`, `${diff}.conv_shortcut.bias`]);
  };
  const attention = (ldm: string, diff: string): void => {
    for (const a of ATTENTION) pairs.push([`${ldm}.${a}.weight`, `${diff}.${a}.weight`]);
  };
  let n = 1;
  for (let b = 0; b < blocks; b++) {
    for (let l = 0; l < lpb; l++, n++) {
      resnet(`input_blocks.${n}.0`, `down_blocks.${b}.resnets.${l}`, l === 0 && b > 0);
      if (attn[b]) attention(`input_blocks.${n}.1`, `down_blocks.${b}.attentions.${l}`);
    }
    if (b < blocks - 1) pairs.push([`input_blocks.${n++}.0.op.weight`, `down_blocks.${b}.downsamplers.0.conv.weight`]);
  }
  resnet('middle_block.0', 'mid_block.resnets.0', false);
  attention('middle_block.1', 'mid_block.attentions.0');
  resnet('middle_block.2', 'mid_block.resnets.1', false);
  n = 0;
  for (let b = 0; b < blocks; b++) {
    const hasAttn = attn[blocks - 1 - b]!;
    for (let l = 0; l <= lpb; l++, n++) {
      resnet(`output_blocks.${n}.0`, `up_blocks.${b}.resnets.${l}`, true);
      if (hasAttn) attention(`output_blocks.${n}.1`, `up_blocks.${b}.attentions.${l}`);
      if (l === lpb && b < blocks - 1) pairs.push([`output_blocks.${n}.${hasAttn ? 2 : 1}.conv.weight`, `up_blocks.${b}.upsamplers.0.conv.weight`]);
    }
  }
  return pairs;
}

t.test('U-Net mapping follows the layout', async (t) => {
  for (const [blocks, lpb, attn] of [
    [4, 2, [true, true, true, false]],
    [3, 1, [false, true, true]],
    [2, 3, [true, true]],
    [5, 2, [true, false, true, false, false]],
  ] as const) {
    const pairs = unetPairs(blocks, lpb, attn);
    const layout = inferLdmUNetLayout(pairs.map(([k]) => k));
    t.same(layout, { blocks, layersPerBlock: lpb }, `layout ${blocks}×${lpb} inferred`);
    const wrong = pairs.filter(([k, want]) => ldmUNetKeyToDiffusers(k, layout) !== want);
    t.same(wrong.map(([k]) => `${k} → ${ldmUNetKeyToDiffusers(k, layout)}`), [], `${blocks}×${lpb}: all ${pairs.length} keys map`);
  }
  // Unknown parts stay unmapped (so a model check reports them under their stored names).
  const sd15 = { blocks: 4, layersPerBlock: 2 };
  for (const k of ['input_blocks.1.0.mystery.weight', 'input_blocks.3.0.conv.weight', 'output_blocks.12.0.in_layers.0.weight', 'middle_block.3.norm.weight', 'label_emb.0.0.weight']) {
    t.equal(ldmUNetKeyToDiffusers(k, sd15), undefined, `${k} unmapped`);
  }
  // SD 1.5 pairs as diffusers' conversion script names them.
  for (const [k, want] of [
    ['input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight', 'down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight'],
    ['input_blocks.9.0.op.bias', 'down_blocks.2.downsamplers.0.conv.bias'],
    ['output_blocks.2.1.conv.weight', 'up_blocks.0.upsamplers.0.conv.weight'],
    ['output_blocks.8.2.conv.weight', 'up_blocks.2.upsamplers.0.conv.weight'],
    ['output_blocks.11.1.proj_out.weight', 'up_blocks.3.attentions.2.proj_out.weight'],
    ['output_blocks.6.0.skip_connection.weight', 'up_blocks.2.resnets.0.conv_shortcut.weight'],
  ]) {
    t.equal(ldmUNetKeyToDiffusers(k!, sd15), want);
  }
});

t.test('VAE mapping: reversed decoder levels, 1×1-conv attention reshaped', async (t) => {
  for (const blocks of [4, 3, 2]) {
    const keys = [...Array(blocks).keys()].map((i) => `encoder.down.${i}.block.0.conv1.weight`);
    const layout = inferLdmVaeLayout(keys);
    t.equal(layout.blocks, blocks);
    for (let i = 0; i < blocks; i++) {
      t.same(ldmVaeKeyToDiffusers(`decoder.up.${i}.block.2.nin_shortcut.weight`, [8, 4, 1, 1], layout), {
        name: `decoder.up_blocks.${blocks - 1 - i}.resnets.2.conv_shortcut.weight`,
      });
      t.same(ldmVaeKeyToDiffusers(`decoder.up.${i}.upsample.conv.bias`, [8], layout), { name: `decoder.up_blocks.${blocks - 1 - i}.upsamplers.0.conv.bias` });
    }
  }
  const layout = { blocks: 4 };
  t.same(ldmVaeKeyToDiffusers('encoder.mid.attn_1.proj_out.weight', [512, 512, 1, 1], layout), {
    name: 'encoder.mid_block.attentions.0.to_out.0.weight',
    shape: [512, 512],
  });
  t.same(ldmVaeKeyToDiffusers('decoder.mid.attn_1.norm.bias', [512], layout), { name: 'decoder.mid_block.attentions.0.group_norm.bias' });
  t.same(ldmVaeKeyToDiffusers('decoder.mid.block_2.norm2.weight', [512], layout), { name: 'decoder.mid_block.resnets.1.norm2.weight' });
  t.same(ldmVaeKeyToDiffusers('encoder.norm_out.weight', [512], layout), { name: 'encoder.conv_norm_out.weight' });
  t.same(ldmVaeKeyToDiffusers('encoder.down.1.downsample.conv.weight', [256, 256, 3, 3], layout), { name: 'encoder.down_blocks.1.downsamplers.0.conv.weight' });
  for (const k of ['decoder.up.4.block.0.conv1.weight', 'encoder.mid.attn_1.qkv.weight', 'loss.logvar', 'encoder.down.0.block.0.foo.weight']) {
    t.equal(ldmVaeKeyToDiffusers(k, [1], layout), undefined, `${k} unmapped`);
  }
});

t.test('text encoder names with and without text_model.', async (t) => {
  t.same(clipTextMapping('text_model.encoder.layers.11.mlp.fc2.bias'), { name: 'encoder.layers.11.mlp.fc2.bias' });
  t.same(clipTextMapping('final_layer_norm.weight'), { name: 'final_layer_norm.weight' });
  t.equal(clipTextMapping('text_model.embeddings.position_ids'), 'drop');
  t.equal(clipTextMapping('embeddings.position_ids'), 'drop');
});
