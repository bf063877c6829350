"""Helpers frozen with the revision that released them: ``rNNNN_*`` belongs to revision NNNN.

A revision imports no live memori code (backends, tokenisers, layouts): what it
needs is copied here or into the revision file, so a later change of today's code
never changes what an old revision does. A module here is never edited once its
revision is released; a new behaviour needs a new revision (and, if it needs
helpers, a new module here). A later revision may import an earlier one's module.
"""
