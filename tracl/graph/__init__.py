"""The knowledge graph (feature 6): a learner's concepts and prerequisite
links drawn with GraphViz, coloured by their progress.

- `model`: the concepts, statuses and links of a learner's graph;
- `dot`: the DOT source, every hostile name escaped;
- `render`: running `dot` with a timeout and a size cap, the image map
  and a sanitised SVG;
- `service`: `KnowledgeGraphs`, rendering cached per viewer and view.
"""
