// The calling process's rank in MPI_COMM_WORLD and the world's size, for the MPI tests.
#pragma once

#include <mpi.h>

namespace parcnn::test {

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

inline int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

}  // namespace parcnn::test
