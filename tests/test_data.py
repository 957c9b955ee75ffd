"""tape.utils.data against torch.utils.data: each case runs once per library, results compared."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest
import torch
from conftest import LIBS, assert_same_error, to_numpy

import tape

Point = collections.namedtuple("Point", "x y")


def check(got, want) -> None:
    """Same structure, container types, tensor dtypes/shapes and exact values."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, tape.Tensor), type(got)
        assert str(got.dtype) == str(want.dtype).replace("torch", "tape"), (got.dtype, want.dtype)
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))
        assert tuple(got.shape) == tuple(want.shape)
        return
    assert type(got).__name__ == type(want).__name__, (got, want)
    if isinstance(want, dict):
        assert list(got) == list(want)
        for k in want:
            check(got[k], want[k])
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), (got, want)
        for g, w in zip(got, want, strict=True):
            check(g, w)
    else:
        assert got == want


def compare(case) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(case(tape), case(torch))


# ------------------------------------------------------------------ default_collate

COLLATE = {
    "float_tensors": lambda L: [L.tensor([1.0, 2.0]), L.tensor([3.0, 4.0])],
    "int_scalars_0d": lambda L: [L.tensor(3), L.tensor(-1), L.tensor(7)],
    "bool_tensors": lambda L: [L.tensor([True]), L.tensor([False])],
    "float64_matrices": lambda L: [L.ones(2, 3, dtype=L.float64)] * 3,
    "python_floats": lambda L: [1.5, 2.0, -3.25],
    "python_ints": lambda L: [1, 2, 3],
    "python_bools": lambda L: [True, False],
    "numpy_float32": lambda L: [np.float32(1.5), np.float32(2)],
    "numpy_float64": lambda L: [np.float64(1.5), np.float64(2)],
    "numpy_int32": lambda L: [np.int32(4), np.int32(5)],
    "numpy_int64": lambda L: [np.int64(4), np.int64(5)],
    "numpy_bool": lambda L: [np.bool_(True), np.bool_(False)],
    "numpy_arrays": lambda L: [np.arange(6, dtype=np.float32).reshape(2, 3)] * 2,
    "numpy_int16_arrays": lambda L: [np.array([1, 2], np.int16), np.array([3, 4], np.int16)],
    "strings": lambda L: ["a", "bc"],
    "bytes": lambda L: [b"a", b"bc"],
    "tuples": lambda L: [(L.tensor([1.0]), 1), (L.tensor([2.0]), 2)],
    "lists": lambda L: [[1, 2.5], [3, 4.5]],
    "dicts": lambda L: [
        {"x": L.tensor([1.0, 2.0]), "y": 0, "name": "a"},
        {"x": L.tensor([3.0, 4.0]), "y": 1, "name": "b"},
    ],
    "ordered_dict": lambda L: [collections.OrderedDict(a=1.0, b=2)] * 2,
    "namedtuples": lambda L: [Point(L.tensor(1.0), 2), Point(L.tensor(3.0), 4)],
    "nested": lambda L: [{"p": (1, [2.0, "s"])}, {"p": (3, [4.0, "t"])}],
}


@pytest.mark.parametrize("name", COLLATE)
def test_default_collate(name):
    compare(lambda L: L.utils.data.default_collate(COLLATE[name](L)))


@pytest.mark.parametrize("name", ["numpy_arrays", "dicts", "tuples", "python_ints", "nested"])
def test_default_convert(name):
    compare(lambda L: L.utils.data.default_convert(COLLATE[name](L)[0]))


COLLATE_ERRORS = {
    "tensor_sizes": lambda L: [L.zeros(2), L.zeros(2), L.zeros(3)],
    "list_lengths": lambda L: [[1, 2], [3]],
    "none": lambda L: [None, None],
    "numpy_strings": lambda L: [np.array(["abc"]), np.array(["d"])],
    "object": lambda L: [object(), object()],
}


@pytest.mark.parametrize("name", COLLATE_ERRORS)
def test_default_collate_errors(name):
    assert_same_error(
        *(lambda L=L: L.utils.data.default_collate(COLLATE_ERRORS[name](L)) for L in LIBS.values())
    )


# ---------------------------------------------------------- DataLoader batch order


def tensor_data(L, n=10):
    return L.utils.data.TensorDataset(L.arange(2 * n, dtype=L.float32).reshape(n, 2), L.arange(n))


class Squares:
    """A map-style dataset (duck-typed, as torch allows) of dict samples with Python numbers."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"i": i, "sq": float(i * i), "arr": np.full(2, i, np.int32)}


def counter(L, n):
    class Count(L.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(n))

        def __len__(self):
            return n

    return Count()


LOADERS = {
    "sequential": lambda L: L.utils.data.DataLoader(tensor_data(L), batch_size=3),
    "shuffle": lambda L: L.utils.data.DataLoader(tensor_data(L), batch_size=3, shuffle=True),
    "shuffle_drop_last": lambda L: L.utils.data.DataLoader(
        tensor_data(L), batch_size=3, shuffle=True, drop_last=True
    ),
    "shuffle_batch_1": lambda L: L.utils.data.DataLoader(tensor_data(L, 7), shuffle=True),
    "shuffle_no_batching": lambda L: L.utils.data.DataLoader(
        tensor_data(L, 6), batch_size=None, shuffle=True
    ),
    "shuffle_generator": lambda L: L.utils.data.DataLoader(
        tensor_data(L), batch_size=4, shuffle=True, generator=L.Generator().manual_seed(7)
    ),
    "shuffle_large": lambda L: L.utils.data.DataLoader(
        tensor_data(L, 1000), batch_size=64, shuffle=True
    ),
    "workers_in_process": lambda L: L.utils.data.DataLoader(
        tensor_data(L), batch_size=4, shuffle=True, num_workers=2 if L is tape else 0
    ),
    "replacement": lambda L: L.utils.data.DataLoader(
        tensor_data(L),
        batch_size=8,
        sampler=L.utils.data.RandomSampler(tensor_data(L), replacement=True, num_samples=70),
    ),
    "num_samples_over_len": lambda L: L.utils.data.DataLoader(
        tensor_data(L), batch_size=8, sampler=L.utils.data.RandomSampler(range(10), num_samples=25)
    ),
    "subset_random_sampler": lambda L: L.utils.data.DataLoader(
        tensor_data(L), batch_size=2, sampler=L.utils.data.SubsetRandomSampler([1, 3, 5, 8, 9])
    ),
    "weighted_sampler": lambda L: L.utils.data.DataLoader(
        tensor_data(L),
        batch_size=4,
        sampler=L.utils.data.WeightedRandomSampler([0.1, 0.9, 0.4, 0, 2, 1, 1, 0.5, 3, 0.2], 25),
    ),
    "weighted_sampler_no_replacement": lambda L: L.utils.data.DataLoader(
        tensor_data(L),
        batch_size=3,
        sampler=L.utils.data.WeightedRandomSampler(
            L.tensor([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            7,
            replacement=False,
            generator=L.Generator().manual_seed(3),
        ),
    ),
    "batch_sampler": lambda L: L.utils.data.DataLoader(
        tensor_data(L),
        batch_sampler=L.utils.data.BatchSampler(L.utils.data.RandomSampler(range(10)), 4, False),
    ),
    "dict_samples": lambda L: L.utils.data.DataLoader(Squares(9), batch_size=4, shuffle=True),
    "custom_collate": lambda L: L.utils.data.DataLoader(
        Squares(5), batch_size=2, collate_fn=lambda b: [s["i"] for s in b]
    ),
    "random_split_loader": lambda L: L.utils.data.DataLoader(
        L.utils.data.random_split(tensor_data(L, 20), [0.75, 0.25])[0], batch_size=4, shuffle=True
    ),
    "concat": lambda L: L.utils.data.DataLoader(
        tensor_data(L, 3) + tensor_data(L, 4), batch_size=3, shuffle=True
    ),
    "requires_grad_tensors": lambda L: L.utils.data.DataLoader(
        L.utils.data.TensorDataset(L.ones(5, 2, requires_grad=True)), batch_size=2, shuffle=True
    ),
    "iterable": lambda L: L.utils.data.DataLoader(counter(L, 10), batch_size=4),
    "iterable_drop_last": lambda L: L.utils.data.DataLoader(
        counter(L, 10), batch_size=4, drop_last=True
    ),
    "iterable_no_batching": lambda L: L.utils.data.DataLoader(counter(L, 3), batch_size=None),
}


@pytest.mark.parametrize("seed", [0, 42])
@pytest.mark.parametrize("name", LOADERS)
def test_dataloader_batches(name, seed):
    """Same batches over three epochs, same len(), and the same global RNG state afterwards."""

    def run(L):
        L.manual_seed(seed)
        loader = LOADERS[name](L)
        epochs = [[b for b in loader] for _ in range(3)]
        return len(loader), epochs, L.randn(3)

    compare(run)


def test_iterator_len_and_partial_epoch():
    def run(L):
        L.manual_seed(3)
        it = iter(L.utils.data.DataLoader(tensor_data(L), batch_size=4, shuffle=True))
        return len(it), next(it), L.rand(2)

    compare(run)


SPLITS = {
    "lengths": lambda L: L.utils.data.random_split(range(10), [3, 7]),
    "fractions": lambda L: L.utils.data.random_split(range(30), [0.3, 0.3, 0.4]),
    "fractions_remainder": lambda L: L.utils.data.random_split(range(11), [0.5, 0.25, 0.25]),
    "zero_length": lambda L: L.utils.data.random_split(range(3), [0.0, 1.0]),
    "generator": lambda L: L.utils.data.random_split(
        range(10), [5, 5], generator=L.Generator().manual_seed(42)
    ),
}


@pytest.mark.parametrize("name", SPLITS)
def test_random_split(name):
    def run(L):
        L.manual_seed(1)
        return [list(s) for s in SPLITS[name](L)], [s.indices for s in SPLITS[name](L)], L.rand(2)

    compare(run)


def test_random_split_zero_length_warns():
    for L in LIBS.values():
        with pytest.warns(UserWarning, match="Length of split at index 0 is 0"):
            L.utils.data.random_split(range(3), [0.0, 1.0])


DATASETS = {
    "tensor_dataset_item": lambda L: tensor_data(L)[4],
    "tensor_dataset_slice": lambda L: tensor_data(L)[2:5],
    "tensor_dataset_len": lambda L: len(tensor_data(L, 6)),
    "subset": lambda L: [L.utils.data.Subset(tensor_data(L), [9, 0, 4])[i] for i in range(3)],
    "subset_getitems": lambda L: L.utils.data.Subset(range(10), [9, 0, 4]).__getitems__([2, 0]),
    "concat_items": lambda L: [(tensor_data(L, 2) + tensor_data(L, 3))[i] for i in range(-5, 5)],
    "concat_sizes": lambda L: L.utils.data.ConcatDataset([range(2), range(5)]).cumulative_sizes,
    "chain": lambda L: list(counter(L, 2) + counter(L, 3)),
    "sequential_sampler": lambda L: list(L.utils.data.SequentialSampler(range(4))),
    "weighted_sampler_len": lambda L: len(L.utils.data.WeightedRandomSampler([1, 2], 5)),
    "batch_sampler_drop": lambda L: list(
        L.utils.data.BatchSampler(L.utils.data.SequentialSampler(range(10)), 3, True)
    ),
    "batch_sampler_len": lambda L: [
        len(L.utils.data.BatchSampler(range(10), 3, drop)) for drop in (False, True)
    ],
    "loader_lens": lambda L: [
        len(L.utils.data.DataLoader(range(10), batch_size=b, drop_last=d))
        for b in (1, 3, 10, 11)
        for d in (False, True)
    ],
    "iterable_loader_lens": lambda L: [
        len(L.utils.data.DataLoader(counter(L, 10), batch_size=b, drop_last=d))
        for b in (None, 3)
        for d in ((False,) if b is None else (False, True))
    ],
}


@pytest.mark.parametrize("name", DATASETS)
def test_datasets_and_samplers(name):
    compare(DATASETS[name])


ERRORS = {
    "shuffle_and_sampler": lambda L: L.utils.data.DataLoader(
        range(4), shuffle=True, sampler=L.utils.data.SequentialSampler(range(4))
    ),
    "batch_sampler_and_batch_size": lambda L: L.utils.data.DataLoader(
        range(4), batch_size=2, batch_sampler=[[0, 1]]
    ),
    "batch_sampler_and_drop_last": lambda L: L.utils.data.DataLoader(
        range(4), batch_sampler=[[0, 1]], drop_last=True
    ),
    "no_batching_drop_last": lambda L: L.utils.data.DataLoader(
        range(4), batch_size=None, drop_last=True
    ),
    "negative_workers": lambda L: L.utils.data.DataLoader(range(4), num_workers=-1),
    "negative_timeout": lambda L: L.utils.data.DataLoader(range(4), timeout=-1),
    "prefetch_without_workers": lambda L: L.utils.data.DataLoader(range(4), prefetch_factor=2),
    "negative_prefetch": lambda L: L.utils.data.DataLoader(
        range(4), num_workers=1, prefetch_factor=-1
    ),
    "persistent_without_workers": lambda L: L.utils.data.DataLoader(
        range(4), persistent_workers=True
    ),
    "context_without_workers": lambda L: L.utils.data.DataLoader(
        range(4), multiprocessing_context="spawn"
    ),
    "iterable_shuffle": lambda L: L.utils.data.DataLoader(counter(L, 3), shuffle=True),
    "iterable_batch_sampler": lambda L: L.utils.data.DataLoader(counter(L, 3), batch_sampler=[[0]]),
    "set_batch_size": lambda L: setattr(L.utils.data.DataLoader(range(4)), "batch_size", 2),
    "batch_sampler_size": lambda L: L.utils.data.BatchSampler(range(4), 0, False),
    "weighted_sampler_num_samples": lambda L: L.utils.data.WeightedRandomSampler([1.0], 0),
    "weighted_sampler_replacement": lambda L: L.utils.data.WeightedRandomSampler([1.0], 2, 1),
    "weighted_sampler_weights_2d": lambda L: L.utils.data.WeightedRandomSampler([[1.0]], 2),
    "batch_sampler_bool_size": lambda L: L.utils.data.BatchSampler(range(4), True, False),
    "batch_sampler_drop_last": lambda L: L.utils.data.BatchSampler(range(4), 2, 1),
    "random_sampler_replacement": lambda L: L.utils.data.RandomSampler(range(4), replacement=1),
    "random_sampler_num_samples": lambda L: L.utils.data.RandomSampler(range(4), num_samples=0),
    "tensor_dataset_sizes": lambda L: L.utils.data.TensorDataset(L.zeros(3), L.zeros(4)),
    "split_sum": lambda L: L.utils.data.random_split(range(10), [3, 6]),
    "split_fraction": lambda L: L.utils.data.random_split(range(10), [1.5, -0.5]),
    "concat_empty": lambda L: L.utils.data.ConcatDataset([]),
    "concat_iterable": lambda L: L.utils.data.ConcatDataset([counter(L, 2)]),
    "concat_index": lambda L: L.utils.data.ConcatDataset([range(2)])[-3],
    "abstract_dataset": lambda L: L.utils.data.Dataset()[0],
    "abstract_sampler": lambda L: iter(L.utils.data.Sampler()),
    "out_of_range_batch": lambda L: list(
        L.utils.data.DataLoader(tensor_data(L, 3), batch_sampler=[[0, 5]])
    ),
    "subset_override": lambda L: type(
        "S", (L.utils.data.Subset,), {"__getitem__": lambda self, i: i}
    )(range(3), [0]),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors(name):
    assert_same_error(*(lambda L=L: ERRORS[name](L) for L in LIBS.values()))


def test_training_script():
    """A plain shuffled training loop gives the same weights under both libraries."""

    def run(L):
        L.manual_seed(0)
        x, y = L.randn(40, 3), L.randn(40, 1)
        loader = L.utils.data.DataLoader(
            L.utils.data.TensorDataset(x, y), batch_size=8, shuffle=True
        )
        model = L.nn.Linear(3, 1)
        opt = L.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            for xb, yb in loader:
                opt.zero_grad()
                L.nn.functional.mse_loss(model(xb), yb).backward()
                opt.step()
        return [p.detach() for p in model.parameters()]

    for got, want in zip(run(tape), run(torch), strict=True):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-5, atol=1e-6)
