// The MPI test program's main: MPI around GoogleTest. Every rank runs every test and prints its own
// report (a failure shows where it happened); any rank's failure fails every rank's exit status.
#include <mpi.h>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  int provided = 0;  // as train_distributed: a rank's workers may send buckets on (mpi::OrderedSum)
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  ::testing::InitGoogleTest(&argc, argv);
  int failed = RUN_ALL_TESTS(), any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
