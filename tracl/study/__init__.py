"""The study loop (features 3-5): answering a concept's question, grading,
progress and time, prerequisite gating, and progress in Trac's roadmap.

- `loop`: `StudyLoop`, what the API and the ticket page call;
- `guard`: what the ticket form may change on a concept;
- `roadmap`: concepts counted as mastered / studying / not started.
"""
