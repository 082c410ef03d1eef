"""MODEL_CARD.md and its plots: what the shipped model is for, what it learnt from, how well it
does on rows it never saw (beside alt-profanity-check), and where it is known to fail."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.artifact import CARD_FILE

if TYPE_CHECKING:
    from models.train import TrainingRun

PLOTS_DIR = "plots"


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _c_choice(manifest: dict[str, Any]) -> str:
    chosen = manifest.get("regularisation") or {}
    return ", ".join(f"{label} {entry['c']:g}" for label, entry in chosen.items()) or "not recorded"


def _c_grid(manifest: dict[str, Any]) -> str:
    grid = manifest.get("config", {}).get("c_grid") or []
    return "{" + ", ".join(f"{c:g}" for c in grid) + "}"


def comparison_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: our ROC-AUC / PR-AUC beside alt-profanity-check's, per set and label."""
    lines = [
        "| set | label | n (pos) | ROC-AUC | peer ROC-AUC | difference (95% interval) | PR-AUC "
        "| peer PR-AUC | ahead |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for row in rows:
        ahead, difference = "-", "-"
        if row["roc_auc"] is not None and row["peer_roc_auc"] is not None:
            ahead = "yes" if row["roc_auc"] > row["peer_roc_auc"] else "**no**"
            difference = f"{row['roc_auc'] - row['peer_roc_auc']:+.3f}"
            if row.get("difference_low") is not None:
                difference += f" ({row['difference_low']:+.3f}, {row['difference_high']:+.3f})"
                if row["difference_low"] <= 0 <= row["difference_high"]:
                    ahead = "tie"  # the interval spans 0: the two cannot be told apart
        mark = " †" if row.get("peer_trained_on_set") else ""
        lines.append(
            f"| `{row['set']}`{mark} | {row['label']} | {row['n']} ({row['positives']}) | "
            f"{_f(row['roc_auc'])} | {_f(row['peer_roc_auc'])} | {difference} | "
            f"{_f(row['pr_auc'])} | {_f(row['peer_pr_auc'])} | {ahead} |"
        )
    return lines


def write_plots(directory: Path, labels: tuple[str, ...], frame: Any) -> list[str]:
    """ROC, precision-recall and reliability plots per label on held-out rows; returns paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    heldout, ours, peer = frame.attrs["heldout_scores"]
    out = directory / PLOTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for column, label in enumerate(labels):
        known = heldout[label].notna().to_numpy()
        y = heldout[label].to_numpy()[known].astype(int)
        if len(np.unique(y)) < 2:
            continue
        mine, theirs = ours[known, column], peer[known]
        figure, axes = plt.subplots(1, 3, figsize=(13, 4))
        for scores, name in ((mine, "this model"), (theirs, "alt-profanity-check")):
            fpr, tpr, _ = roc_curve(y, scores)
            axes[0].plot(fpr, tpr, label=name)
            precision, recall, _ = precision_recall_curve(y, scores)
            axes[1].plot(recall, precision, label=name)
        axes[0].plot([0, 1], [0, 1], ":", color="grey")
        axes[0].set(
            title=f"{label}: ROC (held-out)",
            xlabel="false positive rate",
            ylabel="true positive rate",
        )
        axes[1].set(title=f"{label}: precision-recall", xlabel="recall", ylabel="precision")
        prob_true, prob_pred = calibration_curve(y, mine, n_bins=10, strategy="quantile")
        axes[2].plot(prob_pred, prob_true, "o-", label="this model")
        axes[2].plot([0, 1], [0, 1], ":", color="grey", label="perfect")
        axes[2].set(
            title=f"{label}: reliability",
            xlabel="predicted probability",
            ylabel="observed frequency",
        )
        for axis in axes:
            axis.legend(loc="best", fontsize=8)
        figure.tight_layout()
        path = out / f"{label}.png"
        figure.savefig(path, dpi=80)
        plt.close(figure)
        written.append(f"{PLOTS_DIR}/{label}.png")
    return written


def write_card(
    directory: Path, manifest: dict[str, Any], run: TrainingRun, audit: dict[str, Any] | None
) -> Path:
    """Writes MODEL_CARD.md (and plots) into the artifact directory."""
    labels = tuple(manifest["labels"])
    plots = write_plots(directory, labels, run.frame)
    metrics = manifest["metrics"]
    lines: list[str] = [
        f"# Model card: comment moderation classifier `{manifest['version']}`",
        "",
        "## Intended use",
        "Scores reader comments on a news or community site for four labels, as calibrated",
        "probabilities, so a moderation policy can approve, flag for a human, or reject them:",
        "`toxic` (rude, disrespectful or hateful enough to make someone leave the discussion),",
        "`identity_hate` (attacks a group for who they are), `threat` (wishes or calls for",
        "violence) and `spam` (promotion, links and scams unrelated to the article). It is meant",
        "to triage for human moderators, with highlights of the words that drove a score; it is",
        "not meant to take final decisions on its own, to judge people, or for languages other",
        "than English.",
        "",
        "## Model",
        "Text is normalised (NFKC, zero-width/control characters removed, repeated letters",
        "squeezed, leetspeak and spaced-out words folded, with a map back to original offsets).",
        "Features: word unigram and char 2-5-gram (within words) TF-IDF, sublinear tf, each",
        "block L2-normalised. One L2-regularised logistic regression per label, trained only on",
        "rows whose set carries that label, weighted so that inside every set positives and",
        "negatives weigh the same (a set's base rate, and so its style, is no evidence); its C",
        f"({_c_choice(manifest)}) is the one of {_c_grid(manifest)} with the best mean per-set",
        "ROC-AUC on the calibration split. Features no label weighs are pruned; each label's",
        "margin is then Platt-calibrated on that calibration split.",
        *(
            [
                "The span-labelled news comments are all toxic; with only them, a news",
                "comment's topic and length read as toxicity. So toxic also learns from each of",
                "those fit-part posts with its marked spans cut out, as a negative of its set.",
            ]
            if manifest["config"].get("span_cut_weight")
            else []
        ),
        *embedding_paragraph(manifest),
        f"Seed {manifest['seed']}; artifact {manifest['size_bytes'] / 1e6:.1f} MB; "
        f"training took {manifest['training_seconds']:.0f} s on this machine.",
        "",
        "## Training data",
        "| set | licence | class | labels taught | fit | calibration | held-out |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    rows = manifest.get("rows", {})
    for entry in manifest["training_sets"]:
        counts = rows.get(entry["name"], {})
        lines.append(
            f"| `{entry['name']}` | {entry['licence']} | {entry['licence_class']} | "
            f"{', '.join(entry['labels'])} | {counts.get('fit', 0)} | "
            f"{counts.get('calibration', 0)} | {counts.get('heldout', 0)} |"
        )
    lines += ["", *label_sources(manifest)]
    lines += [
        "",
        "File sha256 for every set are in `manifest.json`. A text found in several sets is used",
        "once, with the labels of all its copies. Parts are cut per set by group (thread,",
        "article, video or normalised text), seeded: ~65% fit, ~15% calibration, ~20% held-out.",
        "",
        "## Held-out results",
        "Rows never used for fitting, calibration or tuning. alt-profanity-check 1.9.1 scored",
        "on the same rows; it was trained on Davidson's tweets and Jigsaw, so on those sets (†)",
        "it has seen related data. ROC-AUC / PR-AUC; `n (pos)` = rows (positives); `difference`",
        "= our ROC-AUC minus the peer's with its 95% interval (paired bootstrap of the rows, 1000",
        "resamples): an interval that spans 0 means the two cannot be told apart on that set",
        "(`tie` in the last column).",
        "",
    ]
    lines += comparison_table(metrics["heldout"])
    lines += [
        "",
        "A `-` means the held-out part has fewer than 5 rows of one class (e.g. the toxic-spans",
        "posts are all toxic), so no AUC is defined.",
        "",
        "## Out-of-domain evaluation (restricted sets, never trained on)",
    ]
    ood = metrics.get("out_of_domain") or []
    thresholds = manifest["thresholds"]
    if not ood:
        lines.append("No restricted set was available (or all were trained on) for this build.")
    else:
        lines += [
            "The sets whose licence class is *restricted* never train the shipped model; each is",
            "scored in full (texts also found in the training sets left out), beside",
            "alt-profanity-check on the same rows. They were looked at while choosing how to",
            "weight the training sets (the catalogue allows them for tuning), so they are not",
            "untouched; the choice itself (class balance per set, C per label) was made by the",
            "calibration split.",
            "",
            *comparison_table(ood),
            "",
            "At the shipped flag thresholds, the share of each set's comments that no rater found",
            "toxic which are flagged anyway (reviews a moderator spends for nothing), and of its",
            "toxic ones (recall):",
            "",
            "| set | label | threshold | clean comments flagged | recall |",
            "| --- | --- | ---: | ---: | ---: |",
            *(
                f"| `{row['set']}` | {row['label']} | {thresholds[row['label']]:.2f} | "
                f"{_percent(row.get('clean_flagged'))} | {_percent(row.get('recall'))} |"
                for row in ood
            ),
        ]
    lines += embedding_section(manifest)
    lines += [
        "",
        "## Thresholds",
        "Flag thresholds per label, chosen for the best F1 on the calibration split (within",
        "0.40-0.90), and what they give on all held-out rows carrying the label:",
        "",
        "| label | threshold | precision | recall | flag rate |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label in labels:
        m = metrics["thresholds"][label]
        lines.append(
            f"| {label} | {m['threshold']:.2f} | {_f(m['precision'])} | {_f(m['recall'])} | "
            f"{_f(m['flag_rate'])} |"
        )
    lines += [
        "",
        "## Calibration",
        "Platt scaling per label on the calibration split: p = 1 / (1 + exp(-(a * margin + b)));",
        "for the stacked labels the stacker (section *Embedding stage*) takes its place and",
        "this line is the n-gram margin's own.",
        "",
        "| label | a | b |",
        "| --- | ---: | ---: |",
    ]
    for label, c in manifest["calibration"].items():
        lines.append(f"| {label} | {c['slope']:.3f} | {c['offset']:.3f} |")
    lines += ["", "Reliability diagrams are in the plots below (held-out rows).", ""]
    lines += ["## Plots", ""]
    lines += [f"![{Path(p).stem}]({p})" for p in plots]
    rule = manifest["highlight_rule"]
    lines += [
        "",
        "## Highlights",
        "`explain(text)` gives, per label, every word whose n-grams add to that label's margin,",
        "with its share of the margin, in original offsets (through the normalisation map, so",
        '"f u c k" covers all seven characters). `highlights(text)` is what the moderator sees:',
        (
            "on every text, the"
            if rule["gate"] <= 0
            else f"when a text's toxic, identity_hate or threat probability reaches"
            f" {rule['gate']:.2f}, the"
        ),
        "words a per-word model (word form, char n-grams, neighbours and, if tuning preferred it,",
        "the word's contribution to the toxic margin) puts inside a toxic span with probability",
        "at least",
        f"{rule.get('word_threshold', float('nan')):.3f}"
        + (
            " (on a flagged comment with no such word, its likeliest word)."
            if rule.get("at_least_one_on_flagged")
            else "."
        ),
        "Marked words separated only by spaces are shown as one span, as the gold spans are.",
        *unflagged_rule(rule, metrics.get("highlight_clean")),
        "A second stage",
        "(boosted trees over each word's first-stage probability in its post's context, its",
        "neighbours', and a word prior from the toxic labels of the classification sets)",
        "re-scores each word. Gate, threshold and at-least-one rule were picked by grouped",
        "cross-validation over the fit and calibration parts of `toxic-spans-semeval2021`, the",
        "threshold by F1 averaged with its neighbours on the grid (char F1 there",
        f"{_f(rule.get('tuning_char_f1'))}); both stages were then fitted on those parts.",
        "The span model sees each fit-part post's words and scores as a classifier whose toxic",
        "weights never saw that post gives them (the toxic label refitted once per fold without",
        "the fold's posts), because in use it only ever sees comments the classifier never saw.",
        f"SemEval-2021 Task 5 character F1 on its held-out part ({metrics['highlight_posts']}"
        f" posts, never used for fitting or tuning): **{_f(metrics['highlight_char_f1'])}**"
        " (task winner, a fine-tuned transformer: 0.708). This figure was looked at while the",
        "highlighter's current design was chosen, so it is not an untouched estimate; the",
        "highlight target was judged met on the task's official test split, checked after the",
        "fact.",
        "",
        "## Identity audit",
    ]
    if audit is None:
        lines.append("The audit module was not available when this model was built.")
    else:
        lines.append(audit["markdown"])
    lines += ["", *speed_section(None)]
    lines += [
        "",
        "## Known biases and limits",
        "- English only; trained on Wikipedia talk pages, tweets, Gab, a hate forum, YouTube,",
        "  chatbot conversations and news comments, whose annotators disagree on what is toxic.",
        "- Mostly a bag of n-grams; the embedding stage adds what a sentence means, but as a",
        "  mean of static token vectors it knows no word order or context (who is quoted, who",
        "  is addressed): it misses sarcasm and implicit or coded hate, reclaimed slurs and",
        "  quoted insults score high, and reports or condemnations of a threat can read as one.",
        "- Identity terms co-occur with abuse in the training data; the mitigation (neutral",
        "  identity sentences added as negatives) lowers, but does not remove, that bias: see the",
        "  audit above.",
        "- Identity words may lower but never raise toxic, identity_hate or threat (the",
        "  mitigation), so identity_hate rests on the other words: a plain insult naming no group",
        '  can reach its threshold ("What an idiot." scores about 0.4), and a flagged insult may',
        "  list identity_hate among its reasons.",
        "- Mild incivility and sarcasm in news comments are ranked poorly: on the SFU Globe",
        "  and Mail comments (42 toxic of 1109) the peer is ahead, within a wide interval",
        "  (out-of-domain table).",
        "- `threat` and `spam` have few training sets (Gab, ETHOS, Jigsaw 6-label and",
        "  threatgram101's Telegram replies; YouTube comments and UK SMS), none of news",
        "  comments, so their scores generalise least: see the functional suites' figures.",
        "- Probabilities are calibrated on the mix of training sets; a site's own base rates",
        "  differ,",
        "  so re-check the thresholds on its own labelled comments (`moderation evaluate`).",
        "",
        "## How to rebuild",
        "From the repository root, with the data catalogue at `../shared/data`:",
        "",
        "```",
        manifest["command"],
        "```",
        "",
        f"Libraries: {', '.join(f'{k} {v}' for k, v in manifest['libraries'].items())}.",
        "`moderation train` asks OpenBLAS for two threads and, on any x86-64 CPU with AVX2,",
        "its Haswell kernels (`models/reproducible.py`): left to choose, an AVX-512 CPU",
        "rounded differently in the last bits, which moved the weights by about 1e-7 and",
        "flipped a near-tie in highlight tuning. With these libraries a rebuild on a CPU with",
        "AVX2 gives the same bytes. On an AVX-512 CPU every weight, rule and figure came out",
        "the same, but 6 of the span model's 2,100 split points differed in the last bit, so",
        "the sha256 differs.",
        "",
    ]
    path = directory / CARD_FILE
    path.write_text("\n".join(lines))
    return path


def embedding_paragraph(manifest: dict[str, Any]) -> list[str]:
    """The Model section's lines on the embedding stage, if the model has one."""
    embedding, stage = manifest.get("embedding"), manifest.get("embedding_stage")
    if not embedding or not stage:
        return []
    labels = ", ".join(f"`{label}`" for label in embedding["labels"])
    weight = manifest["config"].get("contrast_weight")
    return [
        f"An embedding stage re-scores {labels}: each comment's mean token vector from a static",
        "distillation of the sentence encoder all-MiniLM-L6-v2 (model2vec; "
        f"{embedding['tokens']} WordPiece tokens x {embedding['dimensions']} dimensions,",
        f"float16, `{embedding['file']}`, {embedding['size_bytes'] / 1e6:.1f} MB, sha256 in this",
        "manifest and in the model file, checked before loading; no encoder or torch at run",
        "time) goes into one logistic regression per label, fitted on the fit split with the",
        "n-gram model's row weights and, for threat and spam, the contrast negatives",
        f"(`models/contrast.py`) weighed {weight:g} times; a stacker (two weights and a bias over",
        "the n-gram margin and the embedding margin), fitted on the calibration split that",
        "neither model saw, gives the label's probability, and its threshold is chosen there",
        "as every label's is. The section *Embedding stage* below says what it adds.",
    ]


def embedding_section(manifest: dict[str, Any]) -> list[str]:
    """What the embedding stage adds per label on the held-out rows, and what it learnt from."""
    stage = manifest.get("embedding_stage")
    gain = manifest["metrics"].get("stage_gain") or []
    if not stage:
        return []
    lines = [
        "",
        "## Embedding stage",
        "Held-out ROC-AUC of each stacked label with the embedding stage (ROC-AUC) and with",
        "the n-gram model alone (peer column), on the same rows, with the paired bootstrap",
        "interval of the difference. These held-out parts were looked at while choosing which",
        "labels to stack (below), so for this choice they are not untouched.",
        "",
        *comparison_table(gain),
        "",
        "| label | fit rows | contrast negatives | stacker: n-gram margin | embedding margin "
        "| bias |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, entry in stage["labels"].items():
        lines.append(
            f"| {label} | {entry['fit_rows']} | {entry['contrast_negatives']} | "
            f"{entry['stack_ngram']:.3f} | {entry['stack_embedding']:.3f} | "
            f"{entry['stack_bias']:.3f} |"
        )
    lines += [
        "",
        "Contrast negatives are training comments of the fit split that use a label's words",
        "harmlessly: threat negatives with words of violence (threatgram101's legal and",
        "punitive replies, Gab posts about wars), spam negatives with figures, prices, links or",
        "company names. They are found by the word lists of `models/contrast.py`, never in the",
        "functional suites.",
        "",
        "`identity_hate` is not stacked. Tried while choosing (stacked like the others, its",
        "group mentions and rude negatives as contrast negatives), it rose on most held-out sets",
        "(fox-news-comments +0.015, davidson +0.006, gab +0.004) but fell on ETHOS (-0.010",
        "against the retrained n-gram model, -0.015 against the model shipped before), and on",
        "the functional suite it flagged more negations (5% -> 10%) and quotes (0% -> 14%)",
        "while catching more group attacks (42% -> 50%).",
        "",
        "Cost: every comment is embedded (tokenised once per whitespace piece, a cached",
        "lookup, then a mean of its token rows); the speed section below is measured with it.",
    ]
    return lines


def label_sources(manifest: dict[str, Any]) -> list[str]:
    """What each label learnt from: the sets that carry it, and the sets whose rows were made
    its negatives (TrainConfig.spam_negative_sets)."""
    negatives = list(manifest["config"].get("spam_negative_sets") or [])
    weight = manifest["config"].get("spam_negative_weight")
    lines = ["What each label learnt from (positives and negatives, unless said otherwise):", ""]
    for label in manifest["labels"]:
        carried = [e["name"] for e in manifest["training_sets"] if label in e["labels"]]
        line = f"- `{label}`: " + (", ".join(f"`{n}`" for n in carried) or "no set")
        if label == "spam" and negatives:
            line += (
                "; as negatives only (ordinary discussion, none labelled spam, each row at "
                f"{weight:g} of its set weight): " + ", ".join(f"`{n}`" for n in negatives)
            )
        if label != "spam" and manifest["config"].get("augmentation_weight"):
            line += "; and the identity audit's neutral sentences as negatives"
        lines.append(line + ".")
    if any(e["name"] == "threatgram101" for e in manifest["training_sets"]):
        lines += [
            "",
            "`threatgram101`'s replies that mention Gitmo or Guantanamo (detention, not violence:",
            "a judgement call) are left out of `threat` as one group; its legal and punitive",
            "threats (arrest, jail, impeach) are `threat` negatives.",
        ]
    return lines


def unflagged_rule(rule: dict[str, Any], clean: dict[str, Any] | None) -> list[str]:
    """The sentences on what a comment no label flags may show."""
    slope = rule.get("unflagged_slope") or 0.0
    threshold = _f(rule.get("unflagged_word_threshold"))
    lines = [
        "On a comment no label flags, a word is marked only if it is no identity term (so a",
        "neutral sentence naming an identity marks nothing), raises the toxic score, and the",
        f"span model gives it at least {threshold}"
        + (f" less {slope:g} x the comment's score." if slope else "."),
    ]
    if slope:
        lines += [
            "(The score of its likeliest highlighted label: a comment just below the flag",
            "threshold needs less surety than one nobody would suspect.)",
        ]
    lines += [
        f"{threshold} is the lowest value at which at most",
        f"{100 * rule.get('unflagged_mark_budget', 0):.0f}% of the calibration split's clean",
        "comments that no label flags show a mark",
        f"({_percent(rule.get('unflagged_clean_marked_calibration'))} there).",
    ]
    tried = rule.get("unflagged_rules") or []
    if len(tried) > 1:
        lines += [
            "Tuning chose the slope by the span posts' cross-validated char F1; each slope",
            "tried has its own threshold from that budget: "
            + "; ".join(
                f"slope {r['slope']:g}, threshold {r['threshold']:.3f}, "
                f"F1 {r['tuning_char_f1_smoothed']:.3f}"
                for r in tried
            )
            + ".",
        ]
    if clean and clean.get("comments"):
        lines += [
            f"Of the held-out split's {clean['comments']} comments no rater found toxic,",
            f"{_percent(clean['marked'])} show a highlight ({_percent(clean['unflagged_marked'])}",
            f"of the {clean['unflagged']} that no label flags).",
        ]
    return lines


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


SPEED_HEADING = "## Speed and size"


def speed_section(lines: list[str] | None) -> list[str]:
    """The card's speed section: the benchmark's printed lines, or how to get them (a rebuilt
    model has not been measured yet)."""
    section = [SPEED_HEADING]
    if lines is None:
        return [*section, "Not measured for this build: `python -m bench classifier --card`."]
    return [
        *section,
        "Printed by `python -m bench classifier --card` on this artifact: ratios against",
        "alt-profanity-check on the same real comments in the same run (CPU time, best of the",
        "rounds).",
        "",
        "```",
        *lines,
        "```",
    ]


def with_speed_section(card: str, section: list[str]) -> str:
    """The card text with its speed section replaced by ``section`` (added before the known
    biases if it has none)."""
    return with_section(card, SPEED_HEADING, section)


def with_section(card: str, heading: str, section: list[str]) -> str:
    """The card text with the section under ``heading`` replaced by ``section`` (which starts
    with that heading), or with ``section`` added before the known biases if it has none."""
    lines = card.split("\n")
    if heading in lines:
        start = lines.index(heading)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        while end > start and lines[end - 1] == "":
            end -= 1
        return "\n".join([*lines[:start], *section, *lines[end:]])
    anchor = "## Known biases and limits"
    at = lines.index(anchor) if anchor in lines else len(lines)
    return "\n".join([*lines[:at], *section, "", *lines[at:]])
