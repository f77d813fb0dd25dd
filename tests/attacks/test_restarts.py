import math

import torch

from attacks import APGDResult, AttackResult
from attacks.restarts import BestPoints, best_over_restarts, keep_best, per_sample_normal, per_sample_uniform, sample_generators


def test_a_samples_draws_do_not_depend_on_its_batch():
    alone = sample_generators(3, [7], restart=1)
    in_batch = sample_generators(3, [5, 7, 9], restart=1)
    assert torch.equal(per_sample_uniform(alone, (4, 2))[0], per_sample_uniform(in_batch, (4, 2))[1])
    alone, in_batch = sample_generators(3, [7], restart=1), sample_generators(3, [5, 7, 9], restart=1)
    assert torch.equal(per_sample_normal(alone, (3,))[0], per_sample_normal(in_batch, (3,))[1])
    other_restart = sample_generators(3, [7], restart=2)
    assert not torch.equal(per_sample_uniform(other_restart, (4,)), per_sample_uniform(sample_generators(3, [7], 1), (4,)))


def test_keep_best_prefers_success_then_higher_loss():
    best_x, best_loss = torch.zeros(3, 1), torch.tensor([1.0, 1.0, 5.0])
    success = torch.tensor([False, False, True])
    todo = torch.tensor([0, 1, 2])
    run = AttackResult(x_adv=torch.ones(3, 1), success=torch.tensor([False, True, False]), loss=torch.tensor([2.0, 0.0, 9.0]))
    improved = keep_best(best_x, best_loss, success, todo, run)
    # 0: higher loss, neither succeeded -> replaced; 1: success -> replaced; 2: already succeeded -> kept
    assert improved.tolist() == [True, True, False]
    assert best_x[:, 0].tolist() == [1.0, 1.0, 0.0] and best_loss.tolist() == [2.0, 0.0, 5.0]
    assert success.tolist() == [False, True, True]


def test_restarts_attack_only_unbroken_samples_with_their_own_generators():
    x = torch.zeros(4, 1)
    calls = []

    def run(rows, index, generators):
        calls.append((index.tolist(), [g.initial_seed() for g in generators]))
        broken = index % 2 == 0  # samples 0 and 2 break on the first try
        return AttackResult(x_adv=rows + 1, success=broken, loss=torch.full((len(rows),), float(len(calls))))

    result = best_over_restarts(run, x, n_restarts=3, seed=1, sample_ids=[10, 11, 12, 13], sign=-1.0)
    assert [positions for positions, _ in calls] == [[0, 1, 2, 3], [1, 3], [1, 3]]
    assert calls[1][1] == [g.initial_seed() for g in sample_generators(1, [11, 13], restart=1)]
    assert result.success.tolist() == [True, False, True, False]
    assert result.loss.tolist() == [-1.0, -3.0, -1.0, -3.0]  # oriented back: the run maximised -loss


def test_no_restarts_leave_the_batch_unattacked():
    x = torch.rand(2, 3)
    result = best_over_restarts(lambda *args: None, x, n_restarts=0, seed=0, sample_ids=None, sign=1.0)
    assert torch.equal(result.x_adv, x) and not result.success.any() and result.loss.tolist() == [-math.inf, -math.inf]
    assert BestPoints(x).unbroken().tolist() == [0, 1]


def test_the_old_result_name_is_the_shared_result_type():
    from attacks.apgd import APGDResult as from_apgd

    assert APGDResult is AttackResult and from_apgd is AttackResult
