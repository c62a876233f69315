"""Activation patching, attribution patching, salience and steering on every tiny random family
(tests/families.py), each checked against the plain model with a PyTorch hook doing the same edit.

The matrix is kept cheap: 8 tokens, a few cells per family. Each family's model and view are built once per
module (``built``). The references run on the plain model, never on the view, except attribution patching's,
which is a central difference of the real patched metric (the sweep's own forward, itself checked here
against the plain model). Where a family cannot give a method (no MLP module found, attention computed in
its own code), the library's refusal is checked instead, on a view made to lack the part.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.core.errors import PlaygroundError
from playground.generation.engine import decode_together
from playground.generation.request import Generation, PreparedPrompt
from playground.generation.sampling import SamplingSettings
from playground.generation.steer import Steer
from playground.internals import patching, salience
from playground.internals.tracing import ModelView, Run, trace
from tests.families import FAMILIES, tiny_config, tiny_model

CLEAN = [504, 3458, 282, 4649, 314, 7042, 30, 378]
CORRUPTED = [504, 3458, 282, 2913, 314, 7042, 30, 378]
DIFFERS = 3
"""The one position where the two prompts differ."""
MIXTURES_OF_EXPERTS = {"qwen3_moe", "mixtral", "gpt_oss", "olmoe"}
"""Their router picks the top experts, a step function of the input: along integrated gradients' path the
log-probability jumps where the choice changes, the gradients never see the jump, and completeness need not hold
(the gap stays whatever the steps: gpt-oss's tiny model keeps about its whole change)."""


def blocks_of(model) -> torch.nn.ModuleList:
    """The plain model's transformer blocks, found here by the families' own attribute names."""
    base = model.base_model
    return base.layers if hasattr(base, "layers") else base.h


def tokens(ids: list[int]) -> list[str]:
    return [str(i) for i in ids]


class Built:
    """One family's plain model, its view and the clean/corrupted experiment on it."""

    def __init__(self, family: str, tokenizer) -> None:
        self.family = family
        self.model = tiny_model(family, tokenizer)
        with torch.inference_mode():
            moved = (self.model(input_ids=torch.tensor([CLEAN])).logits[0, -1]
                     - self.model(input_ids=torch.tensor([CORRUPTED])).logits[0, -1])
        self.answer, self.wrong = int(moved.argmax()), int(moved.argmin())
        """The tokens the swap moves most, each way: a random model's gap between the two runs is then wide
        enough that the normalised cells are not float noise divided by almost nothing."""
        self.view = ModelView(self.model, family)
        clean, corrupted = (trace(self.view, ids, tokens(ids), len(ids)) for ids in (CLEAN, CORRUPTED))
        self.experiment = patching.Experiment(self.view, clean, corrupted, self.answer, self.wrong)
        patching.check_experiment(self.experiment)

    @property
    def blocks(self) -> torch.nn.ModuleList:
        return blocks_of(self.model)

    @property
    def has_mlps(self) -> bool:
        return all(mlp is not None for mlp in self.view.mlps)

    def normalised(self, metric: float) -> float:
        experiment = self.experiment
        return (metric - experiment.corrupted_metric) / (experiment.clean_metric - experiment.corrupted_metric)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread for this module: its matrices are 8 x 32, where a second thread only adds a
    rendezvous per operation, and on a shared CPU each rendezvous waits for a free core (the file ran 20x
    slower with two threads on a loaded 2-core machine). Restored afterwards for the other modules."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def built(tokenizer):
    """Each family built on first use and kept for the module."""
    made: dict[str, Built] = {}

    def get(family: str) -> Built:
        if family not in made:
            made[family] = Built(family, tokenizer)
        return made[family]
    return get


def block_inputs(model, ids: list[int]) -> list[torch.Tensor]:
    """What each block of the plain model receives as its hidden states (positional or keyword)."""
    seen: list[torch.Tensor] = []

    def keep(module, args, kwargs):
        seen.append((args[0] if args else kwargs["hidden_states"]).detach().clone())
    handles = [block.register_forward_pre_hook(keep, with_kwargs=True) for block in blocks_of(model)]
    try:
        with torch.no_grad():  # not inference mode: the salience check makes a graph leaf of what it keeps
            model(input_ids=torch.tensor([ids]))
    finally:
        for handle in handles:
            handle.remove()
    return seen


def replacing_block_input(replace):
    """A forward pre-hook that swaps the block's hidden states for ``replace(hidden)`` wherever they are passed."""
    def hook(module, args, kwargs):
        if args:
            return (replace(args[0]), *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": replace(kwargs["hidden_states"])}
    return hook


def corrupted_metric_with(b: Built, module, hook) -> float:
    """The corrupted prompt's metric on the plain model with ``hook`` (a kwargs pre-hook) on ``module``."""
    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.inference_mode():
            logits = b.model(input_ids=torch.tensor([CORRUPTED])).logits[0, -1].float()
    finally:
        handle.remove()
    return float(logits[b.answer] - logits[b.wrong])


# --- activation patching ---------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_residual_cells_equal_the_plain_model_with_that_position_overwritten(family, built):
    b = built(family)
    effects = b.experiment.normalised(patching.patch_residual(b.experiment))
    assert np.array(effects).shape == (len(b.blocks), len(CLEAN))
    entering = block_inputs(b.model, CLEAN)
    for layer, position in ((0, DIFFERS), (1, len(CLEAN) - 1)):
        def overwrite(hidden, layer=layer, position=position):
            hidden = hidden.clone()
            hidden[:, position] = entering[layer][:, position]
            return hidden
        expected = b.normalised(corrupted_metric_with(b, b.blocks[layer], replacing_block_input(overwrite)))
        assert effects[layer][position] == pytest.approx(expected, abs=1e-4)
    assert effects[0][DIFFERS] == pytest.approx(1, abs=1e-4)  # the only differing token: the clean run itself
    assert effects[0][0] == pytest.approx(0, abs=1e-4)


def first_of(module, names: tuple[str, ...]):
    return next(getattr(module, name) for name in names if getattr(module, name, None) is not None)


def output_projection(block):
    attention = first_of(block, ("self_attn", "attn", "attention", "self_attention"))
    return first_of(attention, ("o_proj", "out_proj", "c_proj", "dense"))


def clean_values(model, modules, output: bool) -> list[torch.Tensor]:
    """Each module's first input (or its output, the first item of a tuple) in the plain model's clean run,
    copied at once (Falcon adds to its MLP's output in place afterwards)."""
    seen: list[torch.Tensor] = []

    def keep_input(module, args):
        seen.append(args[0].detach().clone())

    def keep_output(module, args, out):
        seen.append((out[0] if isinstance(out, tuple) else out).detach().clone())
    handles = [module.register_forward_hook(keep_output) if output else module.register_forward_pre_hook(keep_input)
               for module in modules]
    try:
        with torch.inference_mode():
            model(input_ids=torch.tensor([CLEAN]))
    finally:
        for handle in handles:
            handle.remove()
    return seen


def plain_metric(b: Built, module, hook, output: bool) -> float:
    handle = module.register_forward_hook(hook) if output else module.register_forward_pre_hook(hook)
    try:
        with torch.inference_mode():
            logits = b.model(input_ids=torch.tensor([CORRUPTED])).logits[0, -1].float()
    finally:
        handle.remove()
    return float(logits[b.answer] - logits[b.wrong])


@pytest.mark.parametrize("family", FAMILIES)
def test_head_and_mlp_cells_equal_the_plain_model_with_that_part_overwritten(family, built):
    """A head's slice of the output projection's input (GPT-2's Conv1D c_proj, Falcon's FalconLinear included),
    and one position of an MLP's output (a mixture of experts' block, a tuple where the family returns one)."""
    b = built(family)
    config = b.model.config
    width = getattr(config, "head_dim", None) or b.experiment.clean.residual.shape[-1] // b.view.parts.num_heads
    layer, head = 1, 1
    projection = output_projection(b.blocks[layer])
    clean = clean_values(b.model, [projection], output=False)[0]

    def overwrite_head(module, args):
        heads_in = args[0].clone()
        heads_in[..., head * width:(head + 1) * width] = clean[..., head * width:(head + 1) * width]
        return (heads_in, *args[1:])
    effects = b.experiment.normalised(patching.patch_heads(b.experiment))
    assert effects[layer][head] == pytest.approx(b.normalised(plain_metric(b, projection, overwrite_head, False)),
                                                 abs=1e-4)
    if not b.has_mlps:
        return
    layer, position = 0, DIFFERS
    mlp = first_of(b.blocks[layer], ("mlp", "feed_forward", "ffn", "block_sparse_moe"))
    clean = clean_values(b.model, [mlp], output=True)[0]

    def overwrite_mlp(module, args, out):
        written = (out[0] if isinstance(out, tuple) else out).clone()
        written[:, position] = clean[:, position]
        return (written, *out[1:]) if isinstance(out, tuple) else written
    effects = b.experiment.normalised(patching.patch_mlps(b.experiment))
    assert effects[layer][position] == pytest.approx(b.normalised(plain_metric(b, mlp, overwrite_mlp, True)),
                                                     abs=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_patching_a_run_into_itself_changes_nothing(family, built):
    b = built(family)
    itself = patching.Experiment(b.view, b.experiment.clean, b.experiment.clean, b.answer, b.wrong)
    for what in patching.WHATS:
        if what == "mlp" and not b.has_mlps:
            for method in (patching.SWEEPS[what], lambda e, _: patching.attribution_patch(e, "mlp")):
                with pytest.raises(PlaygroundError, match="cannot be patched here"):
                    method(itself, None)
            continue
        for grid in (patching.SWEEPS[what](itself, None), patching.attribution_patch(itself, what)):
            np.testing.assert_allclose(grid, np.full_like(np.array(grid), itself.clean_metric), atol=1e-4,
                                       err_msg=f"{family} {what}")


def test_a_view_without_mlp_modules_refuses_mlp_patching_with_the_reason(built):
    """No family in the matrix hides its MLP, so the refusal is checked on a view whose MLPs were not found."""
    b = built("llama")
    view = ModelView(b.model, "no-mlp")
    view.mlps = (None,) * len(view.mlps)
    experiment = patching.Experiment(view, b.experiment.clean, b.experiment.corrupted, b.answer, b.wrong)
    for method in (patching.patch_mlps, lambda e: patching.attribution_patch(e, "mlp")):
        with pytest.raises(PlaygroundError, match="no-mlp: a block without an MLP module"):
            method(experiment)


def moved_toward_clean(b: Built, what: str, layer: int, column: int, scale: float) -> float:
    """The corrupted run's metric with one cell moved ``scale`` of the way toward its clean value."""
    view, clean, corrupted = b.view, b.experiment.clean, b.experiment.corrupted
    hidden = corrupted.residual[layer][None].clone()
    run = Run()
    if what == "residual":
        hidden[0, column] += scale * (clean.residual[layer][column] - corrupted.residual[layer][column])
    elif what == "heads":
        mixed = corrupted.heads_in[layer] + scale * (clean.heads_in[layer] - corrupted.heads_in[layer])
        heads = torch.zeros(1, view.parts.num_heads, dtype=torch.bool)
        heads[0, column] = True
        run = Run(head_patch={layer: (heads, mixed)})
    else:
        clean_mlp = patching.mlp_outputs(view, clean)[layer]
        own = patching.mlp_outputs(view, corrupted)[layer]
        cells = torch.zeros(1, len(CLEAN), dtype=torch.bool)
        cells[0, column] = True
        run = Run(mlp_patch={layer: (cells, own + scale * (clean_mlp - own))})
    return float(b.experiment.metric(view.resume(corrupted, layer, hidden, run))[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_attribution_patching_is_the_derivative_of_the_real_patched_metric(family, built):
    b = built(family)
    step = 1e-3
    for what, cell in (("residual", (0, DIFFERS)), ("heads", (1, 1)), ("mlp", (0, DIFFERS))):
        if what == "mlp" and not b.has_mlps:
            continue
        layer, column = cell
        estimated = b.experiment.normalised(patching.attribution_patch(b.experiment, what))
        derivative = (moved_toward_clean(b, what, layer, column, step)
                      - moved_toward_clean(b, what, layer, column, -step)) / (2 * step)
        expected = b.normalised(b.experiment.corrupted_metric + derivative)
        assert estimated[layer][column] == pytest.approx(expected, abs=2e-3), what


# --- salience --------------------------------------------------------------------------------------------

def log_prob_from_block_input(model, ids: list[int], hidden: torch.Tensor, target: int) -> torch.Tensor:
    """The plain model's target log-probability with block 0's hidden states replaced by ``hidden`` (a graph
    leaf): what salience explains."""
    handle = blocks_of(model)[0].register_forward_pre_hook(replacing_block_input(lambda _: hidden), with_kwargs=True)
    try:
        return torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, -1], dim=-1)[target]
    finally:
        handle.remove()


@pytest.mark.parametrize("family", FAMILIES)
def test_gradient_x_input_is_the_plain_models_autograd_and_integrated_gradients_add_up(family, built):
    b = built(family)
    traced = b.experiment.clean
    scores = salience.gradient_x_input(b.view, traced, b.answer)
    entering = block_inputs(b.model, CLEAN)[0].requires_grad_(True)
    (gradient,) = torch.autograd.grad(log_prob_from_block_input(b.model, CLEAN, entering, b.answer), entering)
    expected = (gradient * entering).sum(-1)[0].detach().numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-3, atol=1e-5)

    embeddings = b.model.get_input_embeddings()(torch.tensor([CLEAN])).detach()
    ratio = (entering.detach() / embeddings).flatten()
    if torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-4):
        # block 0 reads the embeddings times a constant (1, or Gemma's sqrt(hidden)): the gradient x input on
        # inputs_embeds is the same number, since the constant cancels between the gradient and the input
        embeddings.requires_grad_(True)
        own_log_prob = torch.log_softmax(b.model(inputs_embeds=embeddings).logits[0, -1], dim=-1)[b.answer]
        (own,) = torch.autograd.grad(own_log_prob, embeddings)
        np.testing.assert_allclose(scores, (own * embeddings).sum(-1)[0].detach().numpy(), rtol=1e-3, atol=1e-5)
    else:
        # block 0 reads positions added in (GPT-2): the comparable input is that stream, checked above
        assert family == "gpt2", "only GPT-2 adds learned positions to the embeddings here"

    baseline = trace(b.view, [0] * len(CLEAN), tokens([0] * len(CLEAN)), len(CLEAN)).residual[0]
    step, ends = entering[0].detach() - baseline, []
    for point in (baseline, entering[0].detach()):
        point = point[None].clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(log_prob_from_block_input(b.model, CLEAN, point, b.answer), point)
        ends.append((step * gradient[0]).sum(-1).detach())
    one_step, _, _ = salience.integrated_gradients(b.view, traced, b.answer, 1, baseline)
    np.testing.assert_allclose(one_step, ((ends[0] + ends[1]) / 2).numpy(), rtol=1e-3, atol=1e-5)  # one step:
    # the trapezoid on the path's ends, the gradient at each times the step
    ig, gap, change = salience.integrated_gradients(b.view, traced, b.answer, 32, baseline)
    with torch.no_grad():
        ends = [float(log_prob_from_block_input(b.model, CLEAN, x[None].clone(), b.answer))
                for x in (baseline, entering[0])]
    assert change == pytest.approx(ends[1] - ends[0], abs=1e-4)
    assert gap == pytest.approx(sum(ig) - change, abs=1e-6)
    if family not in MIXTURES_OF_EXPERTS:
        assert abs(gap) < 0.05 * abs(change) + 1e-4  # completeness: the scores add up to f(input) - f(baseline)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_baseline_is_what_the_model_makes_of_the_vocabularys_mean_embedding(family, built):
    """After the first token, every position's embedding-layer output is replaced by that layer's output
    averaged over the vocabulary; the plain model then applies its own scale or positions."""
    b = built(family)
    layer = b.model.get_input_embeddings()
    with torch.no_grad():
        mean = layer(torch.arange(layer.num_embeddings)).mean(0)
    handle = layer.register_forward_hook(lambda module, args, output: torch.cat(
        [output[:, :1], mean.expand(output.shape[0], output.shape[1] - 1, -1)], dim=1))
    try:
        expected = block_inputs(b.model, CLEAN)[0][0]
    finally:
        handle.remove()
    baseline = salience.neutral_baseline(b.view, b.experiment.clean)
    torch.testing.assert_close(baseline, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(baseline[1:], b.experiment.clean.residual[0][1:])


def eager_attentions(family: str, model, tokenizer, ids: list[int]):
    """The plain model's attention weights from an eager copy (the implementation every family has)."""
    from transformers import AutoModelForCausalLM

    eager = AutoModelForCausalLM.from_config(tiny_config(family, tokenizer), attn_implementation="eager").eval()
    eager.load_state_dict(model.state_dict())
    with torch.inference_mode():
        return eager(input_ids=torch.tensor([ids]), output_attentions=True).attentions


@pytest.mark.parametrize("family", FAMILIES)
def test_attention_rollout_rolls_the_families_own_attention_or_says_why_not(family, built, tokenizer):
    b = built(family)
    traced = b.experiment.clean
    if b.view.unreadable_attention is not None:
        with pytest.raises(PlaygroundError, match="cannot be shown step by step"):
            salience.attention_rollout(b.view, traced)
        return
    scores = salience.attention_rollout(b.view, traced)
    rolled = torch.eye(len(CLEAN), dtype=torch.float64)
    for weights in eager_attentions(family, b.model, tokenizer, CLEAN):
        mixed = 0.5 * weights[0].double().mean(0) + 0.5 * torch.eye(len(CLEAN), dtype=torch.float64)
        rolled = mixed / mixed.sum(-1, keepdim=True) @ rolled
    np.testing.assert_allclose(scores, rolled[-1].numpy(), rtol=1e-4, atol=1e-5)
    assert sum(scores) == pytest.approx(1)


def test_rollout_on_attention_that_cannot_be_read_is_refused_with_the_reason():
    """No family in the matrix hides its attention; Falcon with ALiBi does (its bias is added in its own code)."""
    from transformers import FalconConfig, FalconForCausalLM

    model = FalconForCausalLM(FalconConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                           alibi=True, new_decoder_architecture=False, multi_query=False,
                                           parallel_attn=False, bias=True)).eval()
    view = ModelView(model, "falcon-rw")
    ids = [5, 17, 3, 88, 42, 7, 9, 11]
    traced = trace(view, ids, tokens(ids), len(ids))
    with pytest.raises(PlaygroundError, match="does not read the ALiBi position bias"):
        salience.attention_rollout(view, traced)
    assert len(salience.gradient_x_input(view, traced, 11)) == len(ids)  # the gradient methods still work


# --- steering ----------------------------------------------------------------------------------------------

def adding_to_output(vector: torch.Tensor):
    """A forward hook adding ``vector`` to a block's hidden-state output (the first item where it is a tuple)."""
    def hook(module, args, output):
        if isinstance(output, tuple):
            return (output[0] + vector, *output[1:])
        return output + vector
    return hook


def engine_decoded(b: Built, tokenizer, pushes: list[Steer | None], new_tokens: int) -> list[list[int]]:
    """The clean prompt decoded by the app's generation rows, once per push, as one batch (each prefilled, then
    one forward per step for all): the token ids each wrote (it stops early only at an end-of-text token)."""
    settings = SamplingSettings(max_new_tokens=new_tokens, repetition_penalty=1.0)
    generations = [Generation(b.family, PreparedPrompt(tuple(CLEAN), "", max_new_tokens=new_tokens), settings,
                              steer=push) for push in pushes]
    decode_together(b.model, tokenizer, generations)
    assert all(g.finish_reason in ("length", "eos") for g in generations), [g.error for g in generations]
    return [[token.id for token in g.tokens] for g in generations]


@pytest.mark.parametrize("family", FAMILIES)
def test_steered_generation_is_the_plain_generate_with_the_vector_added_after_the_block(family, built, tokenizer):
    b = built(family)
    ids = torch.tensor([CLEAN])
    settings = dict(max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    hidden = b.experiment.clean.residual.shape[-1]
    layer = 0
    generator = torch.Generator().manual_seed(1)
    vector = torch.randn(hidden, generator=generator)
    vector = vector / vector.norm() * 4 * float(b.experiment.clean.residual[layer + 1].norm(dim=-1).mean())

    def plain(hook=None) -> list[int]:
        handle = b.blocks[layer].register_forward_hook(hook) if hook else None
        try:
            with torch.inference_mode():
                return b.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **settings)[0].tolist()
        finally:
            if handle:
                handle.remove()

    steered, unsteered = engine_decoded(b, tokenizer, [Steer(layer, vector), None], new_tokens=4)
    assert unsteered == plain()[len(CLEAN):len(CLEAN) + len(unsteered)]
    assert steered == plain(adding_to_output(vector))[len(CLEAN):len(CLEAN) + len(steered)]
    assert steered != unsteered  # the push is large enough to show
