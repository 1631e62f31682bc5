"""HAMUR as sklearn-hamur builds it (backbone="mlp"): the data flow of one batch.

Top: shared embeddings, one tower per domain, the adapter after the last hidden block
of each tower, and the shared hyper-network that reads the same embeddings and writes
one k x k matrix S per row. Bottom: one domain's adapter cell, computed as
((h U) S) V without forming the per-row weight U S V.

Drawn for the user guide (docs/user_guide/model.md) with the plot directive.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

SHARED = "#cfe2f3"  # shared by all domains
DOMAIN = "#fce5cd"  # one per domain
ROW = "#d9ead3"  # generated per row
PLAIN = "#f3f3f3"  # data, no parameters
EDGE = "#444444"


def box(ax, x, y, w, h, text, color, *, size=8.5, bold=False, edge=EDGE, style="-"):
    """A rounded box with its lower-left corner at (x, y); returns its geometry."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=color,
            edgecolor=edge,
            linewidth=1.0,
            linestyle=style,
        )
    )
    ax.text(
        x + w / 2,
        y + h / 2,
        text,
        ha="center",
        va="center",
        fontsize=size,
        fontweight="bold" if bold else "normal",
    )
    return x, y, w, h


def arrow(ax, start, end, *, text=None, color=EDGE, rad=0.0, style="-|>", dx=0.0, dy=0.08):
    """An arrow from ``start`` to ``end``, with an optional label at its middle."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=11,
            color=color,
            linewidth=1.1,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=1,
            shrinkB=1,
        )
    )
    if text:
        ax.text(
            (start[0] + end[0]) / 2 + dx,
            (start[1] + end[1]) / 2 + dy,
            text,
            ha="center",
            va="bottom",
            fontsize=7.5,
            color=color,
        )


def right(b):
    return b[0] + b[2], b[1] + b[3] / 2


def left(b):
    return b[0], b[1] + b[3] / 2


def top(b):
    return b[0] + b[2] / 2, b[1] + b[3]


def bottom(b):
    return b[0] + b[2] / 2, b[1]


fig, ax = plt.subplots(figsize=(12, 7.6))
ax.set_xlim(0, 12)
ax.set_ylim(0, 7.6)
ax.axis("off")

# -- top: the model ----------------------------------------------------------------------
ax.text(0.05, 7.4, 'HAMURClassifier(backbone="mlp"): one batch', fontsize=10, fontweight="bold")

inputs = box(
    ax, 0.1, 4.45, 1.55, 1.0, "one row\nids $x_{cat}$, values $x_{num}$,\ndomain $d$", PLAIN
)
embed = box(
    ax,
    2.05,
    4.45,
    1.75,
    1.0,
    "shared embeddings\n$e = [E_1(x_1), \\ldots,$\n$E_F(x_F), x_{num}]$",
    SHARED,
)
arrow(ax, right(inputs), left(embed), text="ids, values")

hyper = box(
    ax,
    4.3,
    6.2,
    3.0,
    0.95,
    "hyper-network (shared)\nLinear-BN-ReLU blocks (hyper_hidden_units)\n"
    "$\\to$ one Linear head per adapter $\\to S$",
    SHARED,
)
s_box = box(ax, 7.8, 6.3, 1.4, 0.75, "$S$: $k \\times k$\nper row", ROW)
arrow(
    ax,
    top(embed),
    left(hyper),
    text="$e$ of every row\n(the domain is\nnot in it)",
    rad=-0.25,
    dx=-0.95,
    dy=0.0,
)
arrow(ax, right(hyper), left(s_box))

# Towers: domain d's is drawn in full, the others as a stack behind it.
for offset in (0.24, 0.12):
    box(ax, 4.3 + offset, 2.85 + offset, 5.85, 2.35, "", DOMAIN, style="--")
tower = box(ax, 4.3, 2.85, 5.85, 2.35, "", DOMAIN)
ax.text(
    4.4, 4.98, "tower of domain $d$ (one per domain; rows of $d$ only)", fontsize=8.5, va="center"
)
block1 = box(
    ax, 4.45, 3.25, 1.25, 1.3, "hidden block\nLinear-BN\n-ReLU-Dropout\n(256)", "white", size=7.5
)
block2 = box(
    ax, 6.0, 3.25, 1.25, 1.3, "hidden block\nLinear-BN\n-ReLU-Dropout\n(128)", "white", size=7.5
)
adapter = box(
    ax,
    7.6,
    3.25,
    1.2,
    1.3,
    "adapter\ncell of $d$\n$U^d, V^d$,\nbiases, $BN_d$",
    "white",
    size=7.5,
    bold=False,
)
head = box(ax, 9.1, 3.45, 0.9, 0.9, "head$_d$\nLinear\n$\\to 1$", "white", size=7.5)
arrow(ax, right(embed), left(block1))
arrow(ax, right(block1), left(block2), text="$h$")
arrow(ax, right(block2), left(adapter), text="$h$ (m)")
arrow(ax, right(adapter), left(head))
arrow(ax, bottom(s_box), top(adapter), text="$S$ of\neach row", dx=0.45, dy=0.35)
ax.text(
    4.45,
    2.98,
    "n_adapters=2 would also put an adapter after the 256-wide block",
    fontsize=7,
    style="italic",
    color="#555555",
)

output = box(
    ax, 10.65, 3.45, 1.25, 0.9, "logit\n$\\sigma \\to p$\n(BCE with logits)", PLAIN, size=7.5
)
arrow(ax, right(head), left(output))
route = box(
    ax,
    0.1,
    2.95,
    3.7,
    0.9,
    "domain $d$ selects the tower and the adapter set:\n"
    "rows are sorted by domain once per batch,\neach domain's layers see only its rows",
    PLAIN,
    size=7.5,
)
arrow(ax, bottom(inputs), (bottom(inputs)[0], 3.85), text=None)
arrow(ax, right(route), (4.3, 3.4), text="$d$", dy=0.02)

ax.legend(
    handles=[
        Patch(facecolor=SHARED, edgecolor=EDGE, label="shared by all domains"),
        Patch(facecolor=DOMAIN, edgecolor=EDGE, label="one per domain"),
        Patch(facecolor=ROW, edgecolor=EDGE, label="generated per row"),
    ],
    loc="upper right",
    fontsize=7.5,
    frameon=False,
    bbox_to_anchor=(1.0, 0.975),
)

# -- bottom: the adapter cell ------------------------------------------------------------
ax.plot([0.1, 11.9], [2.55, 2.55], color="#bbbbbb", linewidth=0.8)
ax.text(
    0.05,
    2.25,
    "adapter cell of domain $d$ (widths: $m$ hidden, $k$ = adapter_rank, $s$ = d_adapter)",
    fontsize=9,
    fontweight="bold",
)
y, h = 0.75, 0.75
steps = [
    ("$h$\n$(m)$", PLAIN, 0.6),
    ("$\\cdot\\, U^d_{down}$\n$(m \\to k)$", DOMAIN, 0.95),
    ("$\\cdot\\, S$\n$(k \\to k)$", ROW, 0.7),
    ("$\\cdot\\, V^d_{down} + b$\n$(k \\to s)$", DOMAIN, 1.1),
    ("sigmoid", PLAIN, 0.7),
    ("$\\cdot\\, U^d_{up}$\n$(s \\to k)$", DOMAIN, 0.9),
    ("$\\cdot\\, S$\n$(k \\to k)$", ROW, 0.7),
    ("$\\cdot\\, V^d_{up} + b$\n$(k \\to m)$", DOMAIN, 1.05),
    ("$BN_d$\nrunning\nstatistics", DOMAIN, 0.9),
]
x = 0.15
boxes = []
for text, color, width in steps:
    boxes.append(box(ax, x, y, width, h, text, color, size=7.5))
    x += width + 0.22
plus_x = x + 0.1
ax.add_patch(plt.Circle((plus_x, y + h / 2), 0.17, facecolor="white", edgecolor=EDGE))
ax.text(plus_x, y + h / 2, "+", ha="center", va="center", fontsize=11)
out = box(ax, plus_x + 0.45, y, 0.75, h, "out\n$(m)$", PLAIN, size=7.5)
for a, b in zip(boxes, boxes[1:]):
    arrow(ax, right(a), left(b))
arrow(ax, right(boxes[-1]), (plus_x - 0.17, y + h / 2))
arrow(ax, (plus_x + 0.17, y + h / 2), left(out))
# Skip connection, below the chain.
skip_y = 0.42
hx = bottom(boxes[0])[0]
ax.plot([hx, hx, plus_x], [y, skip_y, skip_y], color=EDGE, linewidth=1.1)
arrow(ax, (plus_x, skip_y), (plus_x, y + h / 2 - 0.17))
ax.text(
    (hx + plus_x) / 2,
    skip_y - 0.25,
    "skip connection: out $= h + BN_d(\\,up(\\mathrm{sigmoid}(down(h)))\\,)$",
    ha="center",
    fontsize=7.5,
)
# The row's S feeds both multiplications.
s_small = box(ax, 4.55, 1.75, 1.3, 0.38, "$S$ of the row", ROW, size=7.5)
for target in (boxes[2], boxes[6]):
    arrow(ax, bottom(s_small), top(target), rad=0.0)
ax.text(
    7.1,
    1.9,
    "$W_{down} = U^d_{down} S V^d_{down}$ and $W_{up} = U^d_{up} S V^d_{up}$ are never formed:\n"
    "$((h U) S) V$ costs $O(mk + k^2 + ks)$ per row instead of $O(mks)$",
    fontsize=7.5,
    va="center",
)

fig.tight_layout()
