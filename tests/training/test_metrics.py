"""Retrieval, zero-shot and token metrics on hand-built embeddings whose rankings are worked out by hand."""

import math

import numpy as np
import pytest
import torch

from training.metrics import ZERO_SHOT_PROMPT, mean_token_cosine, pool_tokens, retrieval_metrics, zero_shot_accuracy


def at_angles(degrees) -> torch.Tensor:
    """Unit vectors in the plane: cosine similarity then ranks by angular distance, easy to order by hand."""
    radians = torch.tensor(degrees, dtype=torch.float64) * math.pi / 180
    return torch.stack([radians.cos(), radians.sin()], dim=1)  # (N, 2)


def test_perfect_encoder_scores_one_and_chance_is_one_over_captions():
    eye = torch.eye(4)
    metrics = retrieval_metrics(eye, eye, ["a", "b", "c", "d"])
    for direction in ("audio_to_text", "text_to_audio"):
        assert [metrics[f"{direction}/R@{k}"] for k in (1, 5, 10)] == [1.0, 1.0, 1.0]
        assert metrics[f"{direction}/mAP@10"] == 1.0
    assert metrics["chance/audio_to_text/R@1"] == 0.25
    assert metrics["clips"] == 4 and metrics["captions"] == 4


def test_swapped_pair_misses_both_and_ties_rank_against_the_encoder():
    audio = torch.eye(5)[[1, 0, 2, 3, 4]]  # clips 0 and 1 each land exactly on the other's caption
    metrics = retrieval_metrics(audio, torch.eye(5), ["a", "b", "c", "d", "e"], ks=(1, 4, 5))
    # clip 0's own caption scores 0, tied with c, d, e, and behind b: counted at rank 5, not 2
    assert metrics["audio_to_text/R@1"] == pytest.approx(3 / 5)
    assert metrics["audio_to_text/R@4"] == pytest.approx(3 / 5)
    assert metrics["audio_to_text/R@5"] == 1.0
    assert metrics["audio_to_text/mAP@10"] == pytest.approx((1 / 5 + 1 / 5 + 3) / 5)
    assert metrics["text_to_audio/R@1"] == pytest.approx(3 / 5)


def test_constant_encoder_scores_nothing_not_everything():
    metrics = retrieval_metrics(torch.ones(4, 4), torch.eye(4), ["a", "b", "c", "d"])  # every caption ties
    assert metrics["audio_to_text/R@1"] == 0.0 and metrics["text_to_audio/R@1"] == 0.0
    assert metrics["audio_to_text/mAP@10"] == pytest.approx(1 / 4)  # own caption counted last of 4


def test_duplicate_captions_are_one_target_and_either_clip_matching_it_is_correct():
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # two clips share the caption "dog"
    audio = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    metrics = retrieval_metrics(audio, text, ["dog", "dog", "rain"])
    assert metrics["clips"] == 3 and metrics["captions"] == 2
    assert metrics["chance/audio_to_text/R@1"] == 0.5
    assert metrics["audio_to_text/R@1"] == 1.0  # unmerged, clip 1 would tie with the first "dog" and lose
    assert metrics["text_to_audio/R@1"] == 1.0
    assert metrics["text_to_audio/mAP@10"] == 1.0  # both dog clips at ranks 1 and 2: (1/1 + 2/2) / 2


def test_hand_ranked_example_with_several_relevant_clips():
    # clips at 10, 20, 30, 40, 50 degrees; captions dog at 0, rain at 22, car at 90 degrees
    captions = ["dog", "rain", "dog", "car", "dog"]
    caption_angle = {"dog": 0, "rain": 22, "car": 90}
    metrics = retrieval_metrics(at_angles([10, 20, 30, 40, 50]), at_angles([caption_angle[c] for c in captions]), captions, ks=(1, 2, 3))
    # audio->text, own caption's rank per clip: 1 (dog 10 vs rain 12), 1, 2 (rain 8 < dog 30), 3, 3
    assert metrics["audio_to_text/R@1"] == pytest.approx(2 / 5)
    assert metrics["audio_to_text/R@2"] == pytest.approx(3 / 5)
    assert metrics["audio_to_text/R@3"] == 1.0
    assert metrics["audio_to_text/mAP@10"] == pytest.approx((1 + 1 + 1 / 2 + 1 / 3 + 1 / 3) / 5)
    # text->audio: dog ranks clips 0,1,2,3,4 -> relevant at 1, 3, 5: AP = (1/1 + 2/3 + 3/5) / 3
    #              rain ranks clip 1 first: AP = 1;  car ranks 4, 3, ... -> relevant at 2: AP = 1/2
    assert metrics["text_to_audio/R@1"] == pytest.approx(2 / 3)
    assert metrics["text_to_audio/R@2"] == 1.0
    assert metrics["text_to_audio/mAP@10"] == pytest.approx(((1 + 2 / 3 + 3 / 5) / 3 + 1 + 1 / 2) / 3)
    assert metrics["captions"] == 3 and metrics["chance/text_to_audio/R@1"] == pytest.approx((3 / 5 + 1 / 5 + 1 / 5) / 3)


def test_average_precision_divides_by_at_most_ten_relevant_clips():
    # 12 clips share caption "x", one clip has "y"; x's text sits on the x clips, so its top 10 are all relevant
    audio = torch.cat([torch.tensor([[1.0, 0.0]]).repeat(12, 1), torch.tensor([[0.0, 1.0]])])
    captions = ["x"] * 12 + ["y"]
    metrics = retrieval_metrics(audio, audio.clone(), captions)
    assert metrics["text_to_audio/mAP@10"] == 1.0  # AP@10 of x = 10 hits / min(12, 10)


def test_random_embeddings_score_near_chance():
    rng = np.random.default_rng(0)
    captions = [f"caption {i // 4}" for i in range(200)]  # 50 captions, 4 clips each
    runs = [retrieval_metrics(rng.normal(size=(200, 32)), rng.normal(size=(200, 32)), captions) for _ in range(20)]
    chance = runs[0]["chance/audio_to_text/R@1"]
    assert chance == pytest.approx(1 / 50) and runs[0]["captions"] == 50
    assert 0.5 * chance < np.mean([r["audio_to_text/R@1"] for r in runs]) < 1.5 * chance
    assert 0.5 * 10 / 50 < np.mean([r["audio_to_text/R@10"] for r in runs]) < 1.5 * 10 / 50
    assert 0.5 * 0.02 < np.mean([r["text_to_audio/R@1"] for r in runs]) < 1.5 * 0.02  # 4 relevant of 200 clips


def test_retrieval_rejects_rows_that_do_not_line_up():
    with pytest.raises(ValueError, match="must agree"):
        retrieval_metrics(torch.eye(3), torch.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match=r"must be \(N, D\)"):
        retrieval_metrics(torch.zeros(3, 2, 2), torch.zeros(3, 2, 2), ["a", "b", "c"])


def test_zero_shot_skips_unlabelled_clips_and_counts_ties_as_wrong():
    classes = ["dog", "rain", "car"]
    prompts = torch.eye(3)  # stand-ins for the embeddings of ZERO_SHOT_PROMPT per class
    audio = torch.tensor(
        [
            [1.0, 0.1, 0.0],  # dog: right
            [0.2, 1.0, 0.0],  # car: wrong (nearest is rain)
            [0.0, 0.0, 1.0],  # None: skipped, though it would be wrong for any label but car
            [0.0, 0.1, 1.0],  # car: right
            [1.0, 0.0, 1.0],  # car: tied with dog, wrong
        ]
    )
    labels = ["dog", "car", None, "car", "car"]
    assert zero_shot_accuracy(audio, prompts, labels, classes) == pytest.approx(2 / 4)
    assert ZERO_SHOT_PROMPT.format(label="dog") == "This is a sound of dog"
    with pytest.raises(ValueError, match=r"labels 'cat' are not among the 3 classes"):
        zero_shot_accuracy(audio, prompts, ["cat", None, None, None, None], classes)
    with pytest.raises(ValueError, match="no clip has a label"):
        zero_shot_accuracy(audio, prompts, [None] * 5, classes)


def test_pool_tokens_averages_only_real_tokens():
    tokens = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 5.0], [7.0, 9.0], [100.0, 100.0]]])  # (2, 3, 2)
    mask = torch.tensor([[True, True, False], [False, True, False]])
    torch.testing.assert_close(pool_tokens(tokens, mask), torch.tensor([[2.0, 3.0], [7.0, 9.0]]))
    torch.testing.assert_close(pool_tokens(tokens), torch.tensor([[104 / 3, 106 / 3], [112 / 3, 114 / 3]]))
    torch.testing.assert_close(pool_tokens(tokens, torch.zeros(2, 3, dtype=torch.bool)), torch.zeros(2, 2))


def test_mean_token_cosine_over_masked_tokens():
    pred = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]]])  # (1, 3, 2)
    target = torch.tensor([[[5.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])  # cosines 1, 0, -1
    assert mean_token_cosine(pred, target) == pytest.approx(0.0)
    assert mean_token_cosine(pred, target, torch.tensor([[True, True, False]])) == pytest.approx(0.5)
    assert mean_token_cosine(pred, target, torch.tensor([[True, False, False]])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="must both be"):
        mean_token_cosine(pred, target[:, :2])


def test_eval_json_into_a_missing_folder_fails_before_the_work():
    """`--json` into a missing folder used to fail with a traceback after the whole evaluation."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(
        [sys.executable, "-m", "training", "eval", "--encoder", "tiny", "--manifest", "/no/such.csv", "--json", "/no/such/dir/r.json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and r.stderr.strip().startswith("error: --json") and "Traceback" not in r.stderr, r.stderr
