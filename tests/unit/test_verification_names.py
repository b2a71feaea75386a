import pytest
from rapidfuzz import fuzz

from services.verification.domain.names import NormalName, fold_spelling, normalise, score

THRESHOLD = 80


def key(name: str) -> str:
    return normalise(name).full


# ------------------------------------------------------------------------------------- case and punctuation


def test_case_spaces_and_punctuation_do_not_matter():
    assert key("  siti   AMINAH ") == key("SITI AMINAH") == "siti aminah"
    assert key("Ma'ruf") == key("MARUF") == "maruf"
    assert key("Nur-Aini") == "nur aini"


def test_diacritics_are_dropped():
    assert key("Andrés") == "andres"


def test_digits_and_stray_symbols_are_dropped():
    assert key("BUDI 2 (SANTOSO)") == "budi santoso"


# ------------------------------------------------------------------------------------------ muhammad


@pytest.mark.parametrize(
    "variant",
    ["Muhammad", "MUHAMAD", "Mohammad", "Mohamad", "Muh.", "Muh", "Mhd.", "Mhd", "M.", "M", "Moh.", "Mochammad"],
)
def test_every_muhammad_variant_is_one_word(variant):
    assert key(f"{variant} Yusuf") == "muhammad yusuf"


def test_initial_written_without_a_space_is_split():
    assert key("M.YUSUF") == "muhammad yusuf"
    assert key("H.M.YUSUF") == "muhammad yusuf"


def test_muhammad_variants_score_100():
    assert score("M. Yusuf", "MUHAMMAD YUSUF") == 100
    assert score("Mhd Arsyad", "MOHAMAD ARSYAD") == 100


# --------------------------------------------------------------------------------- honorifics and titles


@pytest.mark.parametrize(
    "titled",
    [
        "H. Abdul Rahman",
        "Haji Abdul Rahman",
        "Bapak Abdul Rahman",
        "Pak Abdul Rahman",
        "Bpk. Abdul Rahman",
        "Dr. Abdul Rahman",
        "Drs. Abdul Rahman",
        "Ir. Abdul Rahman",
        "Prof. Dr. Ir. H. Abdul Rahman",
        "K.H. Abdul Rahman",
        "Abdul Rahman, S.Pd",
        "Abdul Rahman, S.E.",
        "Abdul Rahman S.Pd.I",
        "Abdul Rahman SPd",
        "Abdul Rahman, S.E., M.M.",
        "Drs. H. Abdul Rahman, M.Si",
        "Abd. Rahman",
    ],
)
def test_male_titles_are_stripped(titled):
    assert key(titled) == "abdul rahman"


@pytest.mark.parametrize(
    "titled", ["Hj. Siti Aminah", "Hajjah Siti Aminah", "Ibu Siti Aminah", "Bu Siti Aminah", "HJ SITI AMINAH"]
)
def test_female_titles_are_stripped(titled):
    assert key(titled) == "siti aminah"


def test_titles_only_strip_from_the_front_and_never_the_whole_name():
    assert key("Siti Hajjah") == "siti hayyah"  # in the middle or at the end a title word may be a name
    assert key("Bapak") == "bapak"
    assert key("Budi SE") == "budi se"  # undotted "SE" at the end could be a name part


def test_honorific_scores_as_the_bare_name():
    assert score("Hj. Siti Aminah", "SITI AMINAH") == 100
    assert score("Bapak Sutrisno", "SUTRISNO") == 100


# ------------------------------------------------------------------------------------------- old spelling


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Soekarno", "Sukarno"),  # oe -> u
        ("Djoko", "Joko"),  # dj -> j
        ("Tjipto", "Cipto"),  # tj -> c
        ("Njoman", "Nyoman"),  # nj -> ny
        ("Sjamsuddin", "Syamsuddin"),  # sj -> sy
        ("Chairul", "Khairul"),  # ch -> kh
        ("Jusuf", "Yusuf"),  # j -> y
        ("Soeparman Djojohadikoesoemo", "Suparman Joyohadikusumo"),
    ],
)
def test_old_spelling_matches_the_modern_one(old, new):
    assert key(old) == key(new)
    assert score(old, new) == 100


def test_folding_j_and_y_keeps_djoko_joko_and_yoko_together():
    assert fold_spelling("djoko") == fold_spelling("joko") == fold_spelling("yoko")
    assert fold_spelling("tjitjih") == "cicih"


# ---------------------------------------------------------------------------------------------- bin / binti


def test_bin_and_binti_start_a_separate_part():
    assert normalise("Siti Aminah binti Abdullah") == NormalName("siti aminah", "abdullah")
    assert normalise("AHMAD BIN H. ABDUL KADIR") == NormalName("ahmad", "abdul kadir")
    assert normalise("Siti Aminah binti Abdullah").full == "siti aminah abdullah"


def test_bin_is_not_a_patronym_at_the_ends():
    assert normalise("Binti") == NormalName("binti")
    assert normalise("Ahmad bin") == NormalName("ahmad")


def test_parent_part_counts_when_both_names_carry_it():
    assert score("Siti binti Abdullah", "SITI BINTI ABDULLAH") == 100
    assert score("Siti binti Abdullah", "SITI BINTI RAHMAN") < THRESHOLD  # another father: another person


def test_parent_part_missing_on_one_side_is_ignored():
    assert score("Siti Nurhayati", "SITI NURHAYATI BINTI LATIF") == 100
    assert score("Ahmad bin Hasan", "AHMAD") == 100


# ------------------------------------------------------------------------------------------------- scores


def test_identical_names_score_100_and_different_people_score_low():
    assert score("Sutrisno Santoso", "SUTRISNO SANTOSO") == 100
    assert score("Bambang Wibowo", "NURHAYATI LATIF") < 40


def test_word_order_does_not_matter():
    assert score("Nurhayati Siti", "SITI NURHAYATI") == 100


def test_word_breaks_do_not_matter():
    assert score("Nur Hayati", "NURHAYATI") == 100
    assert score("Abdulrahman", "ABDUL RAHMAN") == 100


@pytest.mark.parametrize(
    ("typed", "registered"),
    [
        ("Sutrisna", "SUTRISNO"),
        ("Sukirno Wibowa", "SUKIRNO WIBOWO"),
        ("Nurhayti", "NURHAYATI"),
        ("Jumiyati", "JUMIATI"),
    ],
)
def test_one_typo_in_a_name_passes_the_threshold(typed, registered):
    assert score(typed, registered) >= THRESHOLD


def test_a_short_name_contained_in_a_longer_one_fails_unlike_wratio():
    # The reason for token_sort_ratio: WRatio's partial matching would let "SITI" pass for any SITI.
    assert fuzz.WRatio("siti", "siti nurhayati") >= THRESHOLD
    assert score("Siti", "SITI NURHAYATI") < THRESHOLD
    assert score("Sutrisno", "SUTRISNO SANTOSO") < THRESHOLD


def test_score_is_symmetric_and_bounded():
    pairs = [("M. Yusuf bin Ali", "YUSUF"), ("Hj. Siti", "SITI AMINAH"), ("Djoko", "Joko Susilo")]
    for a, b in pairs:
        assert score(a, b) == score(b, a)
        assert 0 <= score(a, b) <= 100


def test_empty_or_title_only_names_score_zero_against_a_real_name():
    assert score("", "SITI") == 0
    assert score("...", "SITI") == 0


def test_single_word_names_compare_like_any_other():
    assert normalise("Sutrisno") == NormalName("sutrisno")
    assert score("Sutrisno", "SUTRISNO") == 100
    assert score("Sutrisno", "SUPARMAN") < THRESHOLD
