import numpy as np
import pandas as pd
import pytest

from sklearn_hamur import MultiDomainEncoder
from sklearn_hamur.encoder import MISSING_INDEX, N_RESERVED, UNKNOWN_INDEX


def frame():
    return pd.DataFrame(
        {
            "domain": ["b", "a", "b", "a", "c"],
            "item": ["x", "y", "x", None, "z"],
            "flag": [True, False, True, True, False],
            "price": [1.0, np.nan, 3.0, 5.0, 1.0],
            "count": [1, 2, 3, 4, 5],
        }
    )


def test_vocabulary_reserved_indices_and_dtypes():
    X = frame()
    enc = MultiDomainEncoder().fit(X)
    assert enc.categorical_cols_ == ["item", "flag"] and enc.numeric_cols_ == ["price", "count"]
    out = enc.transform(X)
    assert out["x_cat"].dtype == np.int32 and out["x_num"].dtype == np.float32
    assert out["domain"].dtype == np.int64
    # Known values start after padding (0), unknown (1) and missing (2), in sorted order.
    assert out["x_cat"][:, 0].tolist() == [3, 4, 3, MISSING_INDEX, 5]
    assert enc.cardinalities_ == [3 + N_RESERVED, 2 + N_RESERVED]
    unseen = X.assign(item=["w", "x", "y", "z", "new"])
    assert enc.transform(unseen)["x_cat"][:, 0].tolist() == [UNKNOWN_INDEX, 3, 4, 5, UNKNOWN_INDEX]


def test_vocabulary_fitted_on_training_data_only():
    train, test = frame(), frame().assign(item=["q"] * 5)
    enc = MultiDomainEncoder().fit(train)
    assert "q" not in enc.vocabularies_["item"]
    assert (enc.transform(test)["x_cat"][:, 0] == UNKNOWN_INDEX).all()


def test_min_frequency_maps_rare_values_to_unknown():
    enc = MultiDomainEncoder(min_frequency=2).fit(frame())
    assert list(enc.vocabularies_["item"]) == ["x"]
    assert enc.transform(frame())["x_cat"][:, 0].tolist() == [3, 1, 3, 2, 1]


def test_numeric_scaling_uses_training_statistics_and_imputes_missing():
    X = frame()
    enc = MultiDomainEncoder().fit(X)
    np.testing.assert_allclose(enc.means_, [2.5, 3.0])
    x_num = enc.transform(X)["x_num"]
    assert np.isfinite(x_num).all()
    assert x_num[1, 0] == 0.0  # the missing price becomes the training mean
    test = pd.DataFrame({**frame(), "price": [100.0] * 5})
    np.testing.assert_allclose(
        enc.transform(test)["x_num"][:, 0], (100 - 2.5) / enc.scales_[0], rtol=1e-6
    )


def test_constant_numeric_column_does_not_divide_by_zero():
    X = frame().assign(count=7)
    out = MultiDomainEncoder().fit_transform(X)
    assert np.isfinite(out["x_num"]).all()


def test_domain_mapping_keeps_original_values():
    enc = MultiDomainEncoder().fit(frame())
    assert enc.domains_.tolist() == ["a", "b", "c"]
    assert enc.transform(frame())["domain"].tolist() == [1, 0, 1, 0, 2]


def test_unknown_domain_error_names_the_value_or_averages():
    X = frame()
    enc = MultiDomainEncoder().fit(X)
    with pytest.raises(ValueError, match=r"domain value\(s\) \['zz'\] not seen in fit"):
        enc.transform(X.assign(domain="zz"))
    enc = MultiDomainEncoder(handle_unknown_domain="average").fit(X)
    assert (enc.transform(X.assign(domain="zz"))["domain"] == -1).all()


def test_explicit_columns_and_integer_ids():
    X = frame()
    enc = MultiDomainEncoder(categorical_cols=["item", "count"]).fit(X)
    assert enc.categorical_cols_ == ["item", "count"]
    assert enc.numeric_cols_ == ["flag", "price"]
    enc = MultiDomainEncoder(numeric_cols=["price"]).fit(X)
    assert enc.categorical_cols_ == ["item", "flag", "count"]


def test_categorical_and_string_dtypes_and_object_numbers():
    X = frame().astype({"item": "category"})
    X["obj_num"] = pd.Series([1, 2.5, None, 4, 5], dtype=object)
    X["s"] = pd.Series(["u", "v", None, "u", "v"], dtype="string")
    enc = MultiDomainEncoder().fit(X)
    assert "item" in enc.categorical_cols_ and "s" in enc.categorical_cols_
    assert "obj_num" in enc.numeric_cols_


def test_output_slices_like_an_array():
    out = MultiDomainEncoder().fit_transform(frame())
    part = out[1:3]
    assert part["x_cat"].shape == (2, 2) and part["domain"].shape == (2,)


def test_input_is_not_modified():
    X = frame()
    before = X.copy()
    MultiDomainEncoder(categorical_cols=["item", "count"]).fit(X).transform(X)
    pd.testing.assert_frame_equal(X, before)


def test_no_domain_column_means_one_domain():
    X = frame().drop(columns="domain")
    out = MultiDomainEncoder(domain_col=None).fit_transform(X)
    assert (out["domain"] == 0).all()
