"""The course's web addresses (provided): set by the course staff before they publish the starter.

With them set, a student on Colab sets one thing, the project's folder on Google Drive: the notebook's
set-up cell takes the starter from STARTER_URL and the data from DATA_URL (`proj4 data install` takes
DATA_URL too when given no --from). After changing them, regenerate the notebook
(python -m proj4_instructor.make_notebook) and release the starter.

    STARTER_URL  a zip of the starter (any layout: the project at its top or in one folder), or a git URL
    DATA_URL     a plain web folder holding proj4_data.zip and the two attribute CSVs, or the URL of
                 proj4_data.zip with the CSVs beside it (not a Google Drive or Dropbox share link: see
                 proj4_lib/data_install.py)
"""

STARTER_URL = ""
DATA_URL = ""
