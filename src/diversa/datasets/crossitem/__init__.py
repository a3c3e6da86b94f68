"""CrossItem-Lite data: symbolic "videos" and the questions of CrossVid's ten tasks.

Li, Wang, Tan, et al., "CrossVid: A Comprehensive Benchmark for Evaluating
Cross-Video Reasoning in Multimodal Large Language Models", arXiv:2511.12263
(AAAI 2026). An item is a duration and timestamped facts, seen only through
frames sampled uniformly in time (:mod:`.items`); four kinds of worlds stand in
for CrossVid's source videos (:mod:`.worlds`); :func:`generate_questions`
draws questions of the 10 tasks in 4 dimensions (:mod:`.tasks`), whose answers
the exact reasoners derive from the full items (:mod:`.reasoning`);
:func:`generate_twins` draws twin questions of matched difficulty, the same
evidence in one item or over four (:mod:`.twins`), with separate training and
test streams. Everything is deterministic given the seed. Scoring, the frame-budget
harness and solvers are in :mod:`diversa.evaluate.crossitem`.
"""

from diversa.datasets.crossitem.items import Fact, Frame, Item, View, full_view, observe, render_frames
from diversa.datasets.crossitem.tasks import DIMENSIONS, TASKS, PublicQuestion, Question, generate_questions
from diversa.datasets.crossitem.twins import TwinPair, generate_twins

__all__ = ["DIMENSIONS", "TASKS", "Fact", "Frame", "Item", "PublicQuestion", "Question", "View", "full_view",
           "TwinPair", "generate_questions", "generate_twins", "observe", "render_frames"]
